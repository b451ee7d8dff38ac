"""A drawing sampler writes 5 samples per seed as checkpoints in the paper's format, recorded with its settings;
the unchanged pipeline scores them; a view rearranges the paper's score files; the stage graph shares jobs."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import torch

from bayestda import provenance
from bayestda.core.seeds import load_seeds
from bayestda.experiments.experiment import Experiment
from bayestda.launch.stages import Request, plan
from bayestda.results.analysis import load_all
from bayestda.samplers import get_sampler
from bayestda.scores.pipeline import run_scores
from bayestda.training.checkpoints import load_checkpoint
from bayestda.training.sampling import is_sampled, sample_seed


def test_swag_samples_are_checkpoints_with_records_and_the_pipeline_scores_them(trained_seed, experiment, caplog):
    swag = Experiment("cnn", "mnist3", 10, sampler="swag")
    metrics = sample_seed(swag, 446)
    blob = torch.load(swag.checkpoint_path(446, 0))
    assert set(blob) >= {"epoch", "model_state_dict", "optimizer_state_dict", "loss"} and blob["sampler"] == "swag"
    assert len(metrics["checkpoints"]) == 5 and all(60 < c["test_accuracy"] <= 100 for c in metrics["checkpoints"].values())
    assert is_sampled(swag, 446, {"rank": 5, "scale": 1.0})
    record = provenance.read(swag.checkpoint_path(446, 2))
    assert record["what"]["sampler_settings"] == {"rank": 5, "scale": 1.0} and "checkpoints" in record["inputs"]
    first = swag.checkpoint_path(446, 0).read_bytes()
    sample_seed(swag, 446)  # current: skipped
    assert swag.checkpoint_path(446, 0).read_bytes() == first
    sample_seed(swag, 446, get_sampler("swag").with_settings("scale=0.5"))  # other settings: drawn again
    assert not is_sampled(swag, 446, {"rank": 5, "scale": 1.0}) and swag.checkpoint_path(446, 0).read_bytes() != first
    _, params = load_checkpoint(swag, 446, 0)
    _, trained = load_checkpoint(experiment, 446, 14)
    assert any(not torch.equal(params[n], trained[n]) for n in params)
    run_scores(swag, 446, ["gd"], epochs=[0], show_progress=False)
    assert provenance.is_current(swag.scores_path("gd", 446, 0))
    assert json.loads(swag.metrics_path(446).read_text())["settings"] == {"rank": 5, "scale": 0.5}


def test_views_read_the_papers_score_files_as_other_samples(small_run):
    experiment, seeds, _ = small_run
    base = load_all(experiment, ["gd"], seeds)["gd"]
    last = load_all(Experiment.parse("cnn_mnist_10pc_seeds"), ["gd"], seeds)["gd"]
    one = load_all(Experiment.parse("cnn_mnist_10pc_trajectory"), ["gd"], seeds)["gd"]
    assert last.values.shape[:2] == (3, 1) and np.array_equal(last.values[:, 0], base.values[:, -1])
    assert one.values.shape[:2] == (5, 1) and np.array_equal(one.values[:, 0], base.values[0])


def test_a_plan_with_a_sampler_and_the_paper_trains_and_retrains_each_seed_once():
    experiments = (Experiment.parse("cnn_mnist3_10pc"), Experiment.parse("cnn_mnist3_10pc_sgld"),
                   Experiment.parse("cnn_mnist3_10pc_seeds"))
    jobs = plan(Request(experiments, ("gd",), lds_subsets=2, damping=False))
    names = [j.name for j in jobs]
    assert len(names) == len(set(names))
    assert sum(j.stage == "train" for j in jobs) == len(load_seeds())
    assert sum(j.stage == "sample" for j in jobs) == len(load_seeds())
    scored = [j for j in jobs if j.stage == "scores"]
    assert len(scored) == 2 * len(load_seeds())  # the paper's (the view shares them) and sgld's
    sgld_scores = next(j for j in scored if j.name.startswith("cnn_mnist3_10pc_sgld/"))
    assert sgld_scores.needs == (sgld_scores.name.rsplit("/", 1)[0] + "/sample",)
    assert "--sampler" in sgld_scores.commands[0] and all(j.name.startswith("cnn_mnist3_10pc/") for j in jobs
                                                          if j.stage == "lds")


PLUGIN = '''
from dataclasses import dataclass
import torch
from bayestda.samplers import SAMPLES_PER_SEED, Sampler, register_sampler

@dataclass(frozen=True)
class JitterSettings:
    sigma: float = 1e-3

def jitter(given, settings):
    g = torch.Generator().manual_seed(given.seed)
    return [{n: p + settings.sigma * torch.randn(p.shape, generator=g) for n, p in given.final.items()}
            for _ in range(SAMPLES_PER_SEED)]

register_sampler(Sampler("jitter", "isotropic noise around each seed", draw=jitter, settings=JitterSettings(),
                         trainers=("paper",)))
'''


def test_a_sampler_written_outside_the_repository_draws_through_the_scripts(trained_seed, tmp_path):
    plugin = tmp_path / "mysamplers.py"
    plugin.write_text(PLUGIN)
    spec = importlib.util.spec_from_file_location("mysamplers", plugin)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))  # as BAYESTDA_PLUGINS imports it
    jitter = Experiment.parse("cnn_mnist3_10pc_jitter")
    metrics = sample_seed(jitter, 446, get_sampler("jitter").with_settings("sigma=1e-2"))
    assert len(metrics["checkpoints"]) == 5 and metrics["settings"] == {"sigma": 0.01}
    assert 0 < metrics["checkpoints"]["0"]["distance_from_trained"] < 10


def test_the_quick_slice_plans_three_seeds_two_checkpoints_and_its_own_results_folder():
    quick = Experiment.parse("cnn_mnist3_10pc_quick")
    assert quick.checkpoint_epochs == [13, 14] and quick.posterior_seeds == load_seeds()[:3]
    assert quick.whole_analysis_methods[:3] == ["loo", "loo_corrected", "ats"] and "same_class" in quick.whole_analysis_methods
    jobs = plan(Request((quick,), lds_subsets=10, lds_models=2))
    assert sum(j.stage == "train" for j in jobs) == 3
    scores = [j for j in jobs if j.stage in ("scores", "if")]
    assert scores and all(j.commands[0][j.commands[0].index("--ckpts") + 1:][:2] == ("13", "14") for j in scores)
    assert all(p.name.endswith(("_13.csv", "_14.csv")) for j in scores for p in j.outputs)
    assert sum("/lds/leave_one_out/" in j.name for j in jobs) == 3  # the from-scratch LOO of its 3 seeds
    analysis = next(j for j in jobs if j.stage == "analysis")
    assert analysis.outputs[0].parent == quick.results_dir()  # results/cnn_mnist3_10pc_quick/: its whole analysis
    assert "--seed_ids" in analysis.commands[0] and "0,1,2" in analysis.commands[0]
