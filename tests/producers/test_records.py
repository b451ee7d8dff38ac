"""Records out of the user's way: each folder keeps its outputs' records in a hidden `.records/`; records of the 0.2
layout (`<file>.prov.json` beside it) are still read and move on the next write; `python -m bayestda.provenance
show FILE` reads one; problems are typed."""

import shutil

import pytest

from bayestda import provenance
from bayestda.cli.provenance import main as provenance_main
from bayestda.cli.scripts import run
from bayestda.core.errors import CorruptOutput, MissingOutput, StaleOutput, UnrecordedOutput
from bayestda.scores.pipeline import run_scores


@pytest.fixture
def scored(trained_seed, experiment, tmp_path, monkeypatch):
    """Seed 446's checkpoints copied into a fresh output root, gd and gc scored at checkpoint 14."""
    source = experiment.model_dir(446)
    monkeypatch.setenv("BAYESTDA_OUTPUT_ROOT", str(tmp_path))
    shutil.copytree(source, experiment.model_dir(446))
    run_scores(experiment, 446, ["gd", "gc"], epochs=[14], show_progress=False)
    return experiment.scores_path("gd", 446, 14)


def test_a_folder_lists_its_outputs_and_keeps_their_records_in_one_hidden_folder(scored):
    folder = scored.parent
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == ["attribution_ckpt_14.csv"]
    assert provenance.record_path(scored) == folder / ".records" / "attribution_ckpt_14.csv.json"
    assert provenance.record_path(scored).exists() and provenance.is_current(scored)
    assert not list(folder.glob("*.prov.json"))


def test_a_record_in_the_old_layout_is_read_and_moved_on_the_next_write(scored, experiment):
    legacy = provenance.legacy_record_path(scored)
    provenance.record_path(scored).rename(legacy)  # as bayestda 0.2 left it
    assert provenance.read(scored)["what"]["method"] == "gd" and provenance.is_current(scored)
    run_scores(experiment, 446, ["gd"], epochs=[14], overwrite=True, show_progress=False)
    assert provenance.record_path(scored).exists() and not legacy.exists() and provenance.is_current(scored)


def test_show_prints_a_files_record_and_whether_it_is_current(scored, capsys):
    with pytest.raises(SystemExit) as stop:
        run(provenance_main, ["show", str(scored)])
    out = capsys.readouterr().out
    assert stop.value.code == 0
    assert f"{scored}: current" in out and '"method": "gd"' in out and ".records/attribution_ckpt_14.csv.json" in out


def test_what_is_wrong_with_an_output_is_a_typed_error(scored, experiment):
    assert isinstance(provenance.problem(scored.with_name("attribution_ckpt_13.csv")), MissingOutput)
    gc = experiment.scores_path("gc", 446, 14)
    provenance.record_path(gc).unlink()
    assert isinstance(provenance.problem(gc), UnrecordedOutput)
    scored.write_text(scored.read_text() + "\n")
    assert isinstance(provenance.problem(scored), CorruptOutput)
    assert "changed since it was written" in str(provenance.problem(scored))
    run_scores(experiment, 446, ["gd"], epochs=[14], overwrite=True, show_progress=False)
    checkpoint = experiment.checkpoint_path(446, 14)
    checkpoint.write_bytes(checkpoint.read_bytes() + b"\0")  # the checkpoint changed: its scores are stale
    problem = provenance.problem(scored)
    assert isinstance(problem, StaleOutput) and str(problem).startswith("stale:")
