"""The stage graph is the one description of an experiment's stages: `make reproduce` and `run_all.py` plan the same
jobs from it, every kind of output belongs to a stage, and `python -m bayestda.provenance show` answers for each."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from bayestda import provenance
from bayestda.core.paths import REPO_ROOT
from bayestda.experiments.experiment import Experiment
from bayestda.launch.stages import KINDS, STAGE_NAMES, STAGES, Request, plan

EXPERIMENT = Experiment.parse("cnn_mnist3_10pc")


@pytest.fixture
def fresh_root(tmp_path, monkeypatch):
    monkeypatch.setenv("BAYESTDA_OUTPUT_ROOT", str(tmp_path / "out"))
    return tmp_path / "out"


def script(name: str):
    spec = importlib.util.spec_from_file_location(name.removesuffix(".py"), REPO_ROOT / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def as_rows(jobs):
    return [(j.name, j.stage, j.commands, j.outputs, j.needs) for j in jobs]


def test_make_reproduce_and_run_all_plan_the_same_jobs_damping_and_family_methods_included(fresh_root):
    reproduce, _ = script("run_reproduce.py").request_of(["--experiment", EXPERIMENT.name])
    launched, _ = script("run_all.py").request_of(["--experiments", EXPERIMENT.name])
    jobs = plan(reproduce)
    assert as_rows(jobs) == as_rows(plan(launched))
    stages = {j.stage for j in jobs}
    assert stages == set(STAGE_NAMES) - {"sample"}  # train, s_test, if, scores, lds, analysis, damping (no sampler)
    analysis = next(j for j in jobs if j.stage == "analysis")
    assert "loo_corrected" in analysis.commands[0][analysis.commands[0].index("--methods") + 1]
    lds_jobs = [j.name for j in jobs if j.stage == "lds"]
    assert len(lds_jobs) == 2 * 10 + 10  # two halves x R = 10 independent seeds, and the from-scratch LOO per seed
    assert sum("/lds/leave_one_out/" in name for name in lds_jobs) == 10


def test_a_vit_experiment_adds_its_familys_own_method_and_no_lds():
    vit = Experiment.parse("vit_mnist3_10pc")
    jobs = plan(Request((vit,)))
    assert not [j for j in jobs if j.stage == "lds"]
    assert any("loo_pretrained" in " ".join(c) for j in jobs for c in j.commands)


def test_each_stage_needs_only_stages_before_it_and_jobs_need_only_jobs_of_the_plan():
    for index, stage in enumerate(STAGES):
        assert all(STAGE_NAMES.index(n) < index for n in stage.needs), stage.name
        assert stage.here is not None or stage.here_with in STAGE_NAMES
    jobs = plan(Request((EXPERIMENT,)))
    names = {j.name for j in jobs}
    assert all(n in names for j in jobs for n in j.needs)


def test_every_kind_a_producer_declares_belongs_to_the_graph():
    assert set(provenance.records._KINDS) == set(KINDS)


def fake_record(path, kind):
    """A file with a record of that kind, as its producer would name it (its inputs differ from today's)."""
    what = EXPERIMENT.record_what(kind, seed=446, epoch=14, method="gd", methods=["gd"], seeds=[446, 724],
                                  epochs=[14], dampings=[0.1], experiments=[EXPERIMENT.name], study="tiny", lds_subsets=2,
                                  halves="random", target="independent", models=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("made elsewhere\n")
    provenance.write(path, what, {"made": "elsewhere"})


@pytest.mark.slow
def test_provenance_show_answers_for_every_kind_in_a_fresh_process(fresh_root):
    """Each kind in a process of its own that imported nothing but the command (the damping curve's records once
    ended in 'output kind not declared')."""
    files = {kind: fresh_root / "records" / kind / "file" for kind in KINDS}
    for kind, path in files.items():
        fake_record(path, kind)
    code = ("import json, sys; from pathlib import Path; from bayestda.cli.provenance import show; "
            "print(json.dumps({k: show(Path(p)) for k, p in json.loads(sys.argv[1]).items()}))")
    result = subprocess.run([sys.executable, "-c", code, json.dumps({k: str(p) for k, p in files.items()})],
                            capture_output=True, text=True, cwd=REPO_ROOT, env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    for kind, text in shown.items():
        first = text.splitlines()[0]
        assert first.startswith(f"{files[kind]}: not current:"), (kind, first)
        assert "not declared" not in text and f'"kind": "{kind}"' in text


def test_provenance_show_says_in_one_line_when_a_record_names_a_kind_bayestda_does_not_make(fresh_root):
    path = fresh_root / "foreign.csv"
    fresh_root.mkdir(parents=True)
    path.write_text("x\n")
    provenance.write(path, {"kind": "somebody_elses"}, {})
    result = subprocess.run([sys.executable, "-m", "bayestda.provenance", "show", str(path)], capture_output=True,
                            text=True, cwd=REPO_ROOT)
    assert result.returncode == 0 and "Traceback" not in result.stderr
    assert "names kind 'somebody_elses', which bayestda does not make" in result.stdout
