"""Bad input at the edges: every script refuses each bad flag value in one line (exit 2) naming the value and what
is allowed, before anything is written; the analysis writes only after every input is checked; outside scores
get the signs and truth they are given, never a built-in method's by name without saying so. docs/faults.md
lists these cases with their outcome."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from bayestda.analysis import posterior_test
from bayestda.cli.flags import Parser, UniqueInts, seed_id_list
from bayestda.cli.scripts import run
from bayestda.core.errors import BayesTDAError
from bayestda.core.paths import REPO_ROOT
from bayestda.training.checkpoints import load_checkpoint
from bayestda.training.lds import SubsetLosses

ABSENT_GPU = "cuda:99"  # no machine has it: the refusal is tested with or without CUDA

CNN_TDA = ["tda_cnn_scripts/run_cnn_all.py", "tda_cnn_scripts/run_cnn_loo.py", "tda_cnn_scripts/run_cnn_gd_and_gc.py",
           "tda_cnn_scripts/run_cnn_s_test.py", "tda_cnn_scripts/run_cnn_if.py", "tda_cnn_scripts/run_cnn_ats.py",
           "tda_cnn_scripts/run_cnn_tracin.py"]
VIT_TDA = [s.replace("cnn", "vit") for s in CNN_TDA]
PER_SEED_CASES = [
    ("--seed_id 12", "argument --seed_id: 12 is out of range; allowed: 0..9"),
    ("--seed_id -1", "argument --seed_id: -1 is out of range; allowed: 0..9"),
    ("--seed_id one", "argument --seed_id: 'one' is not an integer"),
    ("--task mnist4", "argument --task: invalid choice: 'mnist4'"),
    ("--num_per_class 0", "argument --num_per_class: 0 is out of range; allowed: 1 or more"),
    ("--num_per_class 7", "num_per_class 7 is not available for task 'mnist3'; allowed: 10, 20, 50"),
    ("--ckpts 3", "--ckpts 3 is not a checkpoint of"),
    ("--ckpts x", "argument --ckpts: invalid int value: 'x'"),
    ("--strategy fast", "argument --strategy: invalid choice: 'fast' (choose from 'auto', 'loop', 'stacked')"),
    ("--model-chunk 0", "argument --model-chunk: 0 is out of range; allowed: 1 or more"),
    ("--model-chunk -3", "argument --model-chunk: -3 is out of range; allowed: 1 or more"),
    (f"--device {ABSENT_GPU}", f"argument --device: {ABSENT_GPU} is not available here"),
    ("--device gpu", "argument --device: 'gpu' is not a torch device; allowed: cpu, cuda, cuda:N, mps"),
]
CASES = [
    *[(script, flags, message) for script in CNN_TDA for flags, message in PER_SEED_CASES],
    *[(script, flags, message) for script in VIT_TDA[:3] for flags, message in PER_SEED_CASES
      if "num_per_class 7" not in flags and "ckpts 3" not in flags],
    ("tda_cnn_scripts/run_cnn_gd_and_gc.py", "--arch vit", "argument --arch: invalid choice: 'vit' (choose from 'cnn', 'cnn3'"),
    ("tda_cnn_scripts/run_cnn_all.py", "--methods gd,foo", "argument --methods: unknown method 'foo'; allowed: loo,"),
    ("tda_cnn_scripts/run_cnn_all.py", "--methods gd,,if", "argument --methods: 'gd,,if' has an empty item"),
    ("tda_cnn_scripts/run_cnn_all.py", "--trak-dim 0", "argument --trak-dim: 0 is out of range; allowed: 1..65536"),
    ("tda_cnn_scripts/run_cnn_all.py", "--trak-dim 70000", "argument --trak-dim: 70000 is out of range"),
    ("tda_cnn_scripts/run_cnn_all.py", "--trak-dim 1.5", "argument --trak-dim: '1.5' is not an integer"),
    ("tda_cnn_scripts/run_cnn_all.py", "--ekfac-damping 0", "argument --ekfac-damping: 0 is out of range; allowed: 1e-12..1e+06"),
    ("tda_cnn_scripts/run_cnn_all.py", "--ekfac-damping nan", "argument --ekfac-damping: nan is out of range"),
    ("tda_cnn_scripts/run_cnn_all.py", "--ekfac-damping inf", "argument --ekfac-damping: inf is out of range"),
    ("tda_cnn_scripts/run_cnn_all.py", "--ekfac-damping x", "argument --ekfac-damping: 'x' is not a number"),
    # training
    ("run_cnn_training.py", "--task mnist3 --num_per_class 10 --seed_id 2 --device cuda:99",
     f"argument --device: {ABSENT_GPU} is not available here"),
    ("run_cnn_training.py", "--seed_id 10", "argument --seed_id: 10 is out of range; allowed: 0..9"),
    ("run_cnn_training.py", "--task mnist3 --num_per_class 30", "num_per_class 30 is not available for task 'mnist3'"),
    ("run_cnn_training.py", "--arch resnet", "argument --arch: invalid choice: 'resnet'"),
    ("run_vit_finetuning.py", f"--device {ABSENT_GPU}", f"argument --device: {ABSENT_GPU} is not available here"),
    # analysis
    *[(script, flags, message) for script in ("run_compute_pvalues.py", "run_correlation_analysis.py") for flags, message in [
        ("--experiment cnn_mnist3_10pc --methods gd --seed_ids 0",
         "argument --seed_ids: 0 is one seed; the posterior test needs at least 2 seeds"),
        ("--seed_ids 0,0", "argument --seed_ids: seed id 0 is given twice; each may appear once"),
        ("--seed_ids 12", "argument --seed_ids: 12 is out of range; allowed: 0..9"),
        ("--seed_ids 1,x", "argument --seed_ids: 'x' is not an integer"),
        ("--seeds 0", "argument --seed_ids: 0 is one seed"),
        ("--experiment foo", "experiment name 'foo' is not of the form <model>_<task>_<n>pc"),
        ("--experiment cnn_mnist3_7pc", "num_per_class 7 is not available for task 'mnist3'"),
        ("--experiment rnn_mnist3_10pc", "unknown model 'rnn'"),
        ("--methods gd,foo", "unknown method 'foo'"),
        ("--signs if=-1", "--signs, --builtin-signs, --truth and --classes are for --scores-dir"),
        ("--signs if=2", "argument --signs: 'if=2' is not METHOD=SIGN; allowed signs: +1, -1"),
        ("--truth loo", "--signs, --builtin-signs, --truth and --classes are for --scores-dir"),
        ("--out somewhere", "--out is for --scores-dir"),
        ("--scores-dir somewhere", "--scores-dir needs --out OUT and no --experiment"),
        ("--scores-dir nowhere --out out", "--scores-dir nowhere is not a folder"),
    ]],
    ("run_correlation_analysis.py", "--lds-subsets 1", "argument --lds-subsets: 1 is out of range; allowed: 0 (no LDS) or 2..10000"),
    ("run_correlation_analysis.py", "--lds-subsets -5", "argument --lds-subsets: -5 is out of range"),
    ("run_correlation_analysis.py", "--lds-subsets 10001", "argument --lds-subsets: 10001 is out of range"),
    # LDS retraining and the whole job
    ("run_lds_retraining.py", "--lds-subsets 1", "argument --lds-subsets: 1 is out of range; allowed: 2..10000"),
    ("run_lds_retraining.py", "--lds-subsets 0", "argument --lds-subsets: 0 is out of range; allowed: 2..10000"),
    ("run_lds_retraining.py", "--seed_id 10", "argument --seed_id: 10 is out of range; allowed: 0..9"),
    ("run_lds_retraining.py", "--jobs 0", "argument --jobs: 0 is out of range; allowed: 1 or more"),
    ("run_lds_retraining.py", f"--device {ABSENT_GPU}", f"argument --device: {ABSENT_GPU} is not available here"),
    ("run_lds_retraining.py", "--experiment foo", "experiment name 'foo' is not of the form"),
    ("run_lds_retraining.py", "--experiment vitmnist_mnist3_10pc", "LDS retraining repeats the paper's CNN training loop"),
    ("run_lds_retraining.py", "--lds-target both", "argument --lds-target: invalid choice: 'both' (choose from "
                                                   "'independent', 'paired')"),
    ("run_lds_retraining.py", "--lds-models 0", "argument --lds-models: 0 is out of range; allowed: 1..100"),
    ("run_lds_retraining.py", "--halves all", "argument --halves: invalid choice: 'all'"),
    ("run_lds_retraining.py", "--seed_id 12", "argument --seed_id: 12 is out of range; allowed: 0..9 (the target's 10"),
    ("run_correlation_analysis.py", "--lds-target fresh", "argument --lds-target: invalid choice: 'fresh'"),
    ("run_correlation_analysis.py", "--lds-models 101", "argument --lds-models: 101 is out of range; allowed: 1..100"),
    ("run_damping.py", "--dampings 0", "argument --dampings: 0 is out of range; allowed: 1e-12..1e+06"),
    ("run_damping.py", "--dampings 1e-3,1e-3", "argument --dampings: value 0.001 is given twice"),
    ("run_damping.py", "--dampings 1e-3,x", "argument --dampings: 'x' is not a number"),
    ("run_damping.py", "--ckpts 3", "--ckpts 3 is not a checkpoint of cnn_mnist3_10pc; allowed: 10, 11, 12, 13, 14"),
    ("run_damping.py", "--ckpts 14,14", "argument --ckpts: value 14 is given twice"),
    ("run_damping.py", "--jobs 0", "argument --jobs: 0 is out of range; allowed: 1 or more"),
    ("run_damping.py", "--experiment foo", "experiment name 'foo' is not of the form"),
    ("run_reproduce.py", "--lds-target none", "argument --lds-target: invalid choice: 'none'"),
    ("run_study.py", "--study nope", "argument --study: invalid choice: 'nope' (choose from 'fragility', 'paper-mnist3', "
                                     "'paper', 'replicate', 'data-size', 'samplers', 'tiny')"),
    ("run_study.py", "", "the following arguments are required: --study"),
    ("run_study.py", "--study tiny --workers 0", "argument --workers: 0 is out of range; allowed: 1 or more"),
    ("run_study.py", "--study tiny --seed_ids 0,0", "argument --seed_ids: seed id 0 is given twice"),
    ("run_study.py", "--study tiny --gpus 0 --workers 2", "--gpus and --workers exclude each other"),
    ("run_study.py", "--study tiny --experiments cnn_mnist3_10pc", "argument --experiments: cnn_mnist3_10pc is not in "
                                                                   "study tiny; allowed: cnn_mnist_10pc, "),
    ("run_all.py", "--experiments cnn_mnist3_10pc --lds-subsets 1", "argument --lds-subsets: 1 is out of range; "
                                                                    "allowed: 0 (no LDS) or 2..10000"),
    ("run_reproduce.py", "--jobs 0", "argument --jobs: 0 is out of range; allowed: 1 or more"),
    ("run_reproduce.py", "--lds-subsets 1", "argument --lds-subsets: 1 is out of range; allowed: 0 (no LDS) or 2..10000"),
    ("run_reproduce.py", "--methods gd,foo", "argument --methods: unknown method 'foo'"),
    ("run_reproduce.py", f"--device {ABSENT_GPU}", f"argument --device: {ABSENT_GPU} is not available here"),
    ("run_reproduce.py", "--experiment cnn_cifar10_11pc", "num_per_class 11 is not available for task 'cifar10'"),
    # the launcher
    ("run_all.py", "--experiments cnn_mnist3_10pc --workers 0", "argument --workers: 0 is out of range; allowed: 1 or more"),
    ("run_all.py", "--experiments cnn_mnist3_10pc --gpus 0,0", "argument --gpus: GPU 0 is given twice"),
    ("run_all.py", "--experiments cnn_mnist3_10pc --gpus a", "argument --gpus: 'a' is not an integer"),
    ("run_all.py", "--experiments cnn_mnist3_10pc --gpus 99", "--gpus 99: cuda:99 is not available here"),
    ("run_all.py", "--experiments cnn_mnist3_10pc --gpus 0 --workers 2", "--gpus and --workers exclude each other"),
    ("run_all.py", "--experiments cnn_mnist3_10pc --seed_ids 0,0", "argument --seed_ids: seed id 0 is given twice"),
    ("run_all.py", "--experiments cnn_mnist3_10pc --seeds 12", "argument --seed_ids: 12 is out of range; allowed: 0..9"),
    ("run_all.py", "--experiments cnn_mnist3_10pc,foo", "argument --experiments: experiment name 'foo' is not of the form"),
    ("run_all.py", "--experiments cnn_mnist3_10pc --methods foo", "argument --methods: unknown method 'foo'"),
    ("run_all.py", "--experiments cnn_mnist3_10pc --slurm --time 0", "argument --time: 0 is out of range"),
    ("run_all.py", "--experiments cnn_mnist3_10pc --slurm --gpus-per-job -1", "argument --gpus-per-job: -1 is out of range"),
    ("run_all.py", "--experiments cnn_mnist3_10pc --slurm --cpus-per-job 0", "argument --cpus-per-job: 0 is out of range"),
    ("run_all.py", "--experiments cnn_mnist3_10pc --slurm --mem-gb 0", "argument --mem-gb: 0 is out of range"),
    ("run_all.py", "--experiments cnn_mnist3_10pc --slurm --array-parallelism 0", "argument --array-parallelism: 0 is out of range"),
    ("run_all.py", "", "no experiments given; use --experiments"),
    # data and pretraining
    ("run_subset_generation.py", "--task foo", "argument --task: invalid choice: 'foo'"),
    ("run_subset_generation.py", "--task mnist3 --num_per_class 0", "argument --num_per_class: 0 is out of range"),
    ("run_subset_generation.py", "--task mnist3 --num_per_class 7", "num_per_class 7 is not available for task 'mnist3'"),
    ("run_subset_generation.py", "--num_per_class 20", "num_per_class 20 is not available for task 'mnist'"),
    ("run_subset_generation.py", "--source kaggle", "argument --source: invalid choice: 'kaggle'"),
    *[("run_vit_pretraining.py", f"--{flag} 0", f"argument --{flag}: 0 is out of range; allowed: 1 or more")
      for flag in ("hidden-size", "layers", "heads", "intermediate-size", "image-size", "patch-size", "epochs",
                   "batch-size", "train-items")],
    ("run_vit_pretraining.py", "--seed -1", "argument --seed: -1 is out of range; allowed: 0 or more"),
    ("run_vit_pretraining.py", "--epochs two", "argument --epochs: 'two' is not an integer"),
    # posterior samplers (docs/samplers.md)
    ("run_cnn_training.py", "--sampler mcmc", "argument --sampler: unknown sampler 'mcmc'; allowed: seeds-x-checkpoints"),
    ("tda_cnn_scripts/run_cnn_all.py", "--sampler mcmc", "argument --sampler: unknown sampler 'mcmc'"),
    ("tda_vit_scripts/run_vit_all.py", "--sampler sgld", "sampler 'sgld' does not support model 'vit'"),
    ("run_cnn_training.py", "--task mnist3 --sampler sgld --sampler-settings step=0",
     "sgld setting step = 0.0 is out of range; allowed: a positive number"),
    ("run_cnn_training.py", "--task mnist3 --sampler swag --sampler-settings depth=2",
     "sampler 'swag' has no setting 'depth'; allowed: rank, scale"),
    ("run_cnn_training.py", "--task mnist3 --sampler seeds --sampler-settings rank=2", "sampler 'seeds' takes no settings"),
    ("tda_cnn_scripts/run_cnn_all.py", "--methods bif --bif-settings draws=2", "bif setting draws = 2 is out of range"),
    ("tda_cnn_scripts/run_cnn_all.py", "--methods bif --bif-settings gamma=2", "bif has no setting 'gamma'; allowed: draws"),
    ("tda_cnn_scripts/run_cnn_all.py", "--methods gd --bif-settings draws=20", "--bif-settings sets bif, which is not among"),
    ("tda_cnn_scripts/run_cnn_all.py", "--methods bif_ensemble", "bif_ensemble has one score per pair from every posterior"),
    ("run_all.py", "--experiments cnn_mnist3_10pc --sampler mcmc", "argument --sampler: unknown sampler 'mcmc'"),
    ("run_all.py", "--experiments cnn_mnist3_10pc_mcmc", "unknown sampler 'mcmc'"),
    ("run_study.py", "--study samplers --sampler mcmc", "argument --sampler: unknown sampler 'mcmc'"),
    # benchmarks
    ("benchmarks/bench_methods.py", "--test-items 0", "argument --test-items: 0 is out of range; allowed: 1 or more"),
    ("benchmarks/bench_tda.py", "--paper-test-items -1", "argument --paper-test-items: -1 is out of range"),
    ("benchmarks/bench_vit.py", "--items 0", "argument --items: 0 is out of range"),
    ("benchmarks/bench_vit.py", f"--device {ABSENT_GPU}", f"argument --device: {ABSENT_GPU} is not available here"),
    ("benchmarks/trak_dim.py", "--dims 32,0", "argument --dims: 0 is out of range; allowed: 1..65536"),
    ("benchmarks/trak_dim.py", "--seed_id 10", "argument --seed_id: 10 is out of range; allowed: 0..9"),
    ("benchmarks/trak_dim.py", "--experiment cnn_mnist3", "experiment name 'cnn_mnist3' is not of the form"),
    ("bayestda/provenance/__main__.py", "adopt --experiment foo", "experiment name 'foo' is not of the form"),
    ("bayestda/provenance/__main__.py", "adopt --experiment cnn_mnist3_10pc --methods gd,foo", "unknown method 'foo'"),
    ("bayestda/provenance/__main__.py", "forget --experiment cnn_mnist3_10pc", "argument command: invalid choice: 'forget'"),
]

_MAINS: dict[str, object] = {}


def script_main(script: str):
    """A script's main(argv), loaded once from its file (as `python <script>` runs it)."""
    if script.startswith("bayestda/"):  # python -m bayestda.<module>
        return importlib.import_module(script.removesuffix(".py").replace("/", ".")).main
    if script not in _MAINS:
        spec = importlib.util.spec_from_file_location(f"script_{len(_MAINS)}", REPO_ROOT / script)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _MAINS[script] = module.main
    return _MAINS[script]


def refuse(script: str, argv: list[str], capsys) -> str:
    """Run the script in-process as its `__main__` does; return its one error line (exit 2 and one line asserted)."""
    with pytest.raises(SystemExit) as stop:
        run(script_main(script), argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert stop.value.code == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture
def empty_root(tmp_path, monkeypatch, mnist3_subsets):
    """A fresh output root: after a refused command it must still be empty."""
    root = tmp_path / "out"
    monkeypatch.setenv("BAYESTDA_OUTPUT_ROOT", str(root))
    monkeypatch.chdir(tmp_path)  # relative --out folders land here
    return root


def written(*folders: Path) -> list[Path]:
    return [p for folder in folders if folder.exists() for p in folder.rglob("*") if p.is_file()]


@pytest.mark.parametrize(("script", "flags", "message"), CASES, ids=[f"{s.split('/')[-1]} {f}" for s, f, _ in CASES])
def test_a_bad_flag_value_gets_one_line_naming_it_and_nothing_is_written(script, flags, message, empty_root, tmp_path,
                                                                          capsys):
    line = refuse(script, flags.split(), capsys)
    assert message in line, line
    assert written(empty_root, tmp_path / "out", tmp_path / "somewhere") == []


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("script", ["tda_cnn_scripts/run_cnn_gd_and_gc.py", "run_cnn_training.py", "run_reproduce.py",
                                    "run_lds_retraining.py", "tda_vit_scripts/run_vit_all.py"])
def test_cuda_on_a_machine_without_it_says_so_and_that_cpu_works(script, empty_root, capsys):
    line = refuse(script, ["--device", "cuda", *(["--ckpts", "13"] if "tda_" in script else [])], capsys)
    assert "argument --device: cuda is not available here" in line and "--device cpu works" in line
    assert written(empty_root) == []


def test_a_checkpoint_loaded_onto_an_absent_device_blames_the_device_not_the_checkpoint(experiment):
    with pytest.raises(BayesTDAError, match=f"--device {ABSENT_GPU} is not available here") as error:
        load_checkpoint(experiment, 446, 14, device=ABSENT_GPU)
    assert "retrain" not in str(error.value)


# --- repeated values in list flags ----------------------------------------------------------------------------
def test_repeated_checkpoints_methods_and_experiments_are_dropped_with_one_warning(caplog):
    parser = Parser()
    parser.add_argument("--ckpts", type=int, nargs="+", action=UniqueInts)
    with caplog.at_level(logging.WARNING):
        assert parser.parse_args(["--ckpts", "14", "13", "14"]).ckpts == [14, 13]
    assert "--ckpts 14 is given twice; using it once" in caplog.text


def test_the_launcher_plans_a_repeated_experiment_and_method_once(empty_root, capsys, caplog):
    with caplog.at_level(logging.WARNING), pytest.raises(SystemExit) as stop:
        run(script_main("run_all.py"), ["--experiments", "cnn_mnist3_10pc,cnn_mnist3_10pc", "--methods", "gd,gc,gd",
                                        "--seeds", "0,1", "--lds-subsets", "0", "--dry-run"])
    out = capsys.readouterr().out
    assert stop.value.code == 0
    assert out.count("cnn_mnist3_10pc/446/gd_and_gc:") == 1
    assert "experiment cnn_mnist3_10pc is given twice" in caplog.text and "method gd is given twice" in caplog.text
    assert "--seeds is deprecated; use --seed_ids" in caplog.text
    assert "--seed_ids 0,1" in out  # the analysis job gets the list under its one name


def test_repeated_seeds_are_refused_because_they_would_count_one_sample_twice():
    with pytest.raises(Exception, match="seed id 3 is given twice"):
        seed_id_list("3,1,3")


# --- the analysis of anyone's scores: checked whole before anything is written ---------------------------------
def scores(seeds=3, checkpoints=2, n_train=6, n_test=4, seed=0):
    return np.random.default_rng(seed).normal(size=(seeds, checkpoints, n_train, n_test))


@pytest.mark.parametrize(("make_scores", "kwargs", "message"), [
    (lambda: {}, {}, "no scores given"),
    (lambda: {"a": scores(), "b": scores()[:, :, :, :3]}, {}, "'b' (6 train x 3 test items) score other pairs than 'a'"),
    (lambda: {"a": scores(), "b": scores()[:, :, :5]}, {}, "score other pairs than 'a'"),
    (lambda: {"a": scores()}, {"truth": "loo_corrected"}, "'loo_corrected' is given the truth role but is not among"),
    (lambda: {"a": scores()}, {"signs": {"a": 2}}, "helpful sign 2 of 'a'; allowed: +1"),
    (lambda: {"a": scores()[:1]}, {}, "needs at least 2"),
])
def test_posterior_test_refuses_bad_scores_before_writing_anything(make_scores, kwargs, message, tmp_path):
    with pytest.raises(BayesTDAError, match=message.replace("(", r"\(").replace(")", r"\)").replace("+", r"\+")):
        posterior_test(make_scores(), out=tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()


def test_subset_losses_of_other_items_are_refused_before_writing(tmp_path):
    targets = SubsetLosses(np.ones((3, 6), bool), np.ones((2, 3, 4)), np.arange(10, 16), np.arange(4))
    with pytest.raises(BayesTDAError, match="LDS: 'a' scores other train or test items"):
        posterior_test({"a": scores()}, out=tmp_path / "out", subset_losses=targets)
    assert not (tmp_path / "out").exists()


def score_folder(root: Path, methods: dict[str, np.ndarray]) -> Path:
    """Scores in the paper's layout: <method>/<seed>/attribution_ckpt_<e>.csv."""
    for method, values in methods.items():
        for s in range(values.shape[0]):
            for c in range(values.shape[1]):
                frame = pd.DataFrame(values[s, c], columns=[f"z_test_{j}" for j in range(values.shape[3])])
                frame.insert(0, "train_idx", range(values.shape[2]))
                path = root / method / f"seed{s}" / f"attribution_ckpt_{c}.csv"
                path.parent.mkdir(parents=True, exist_ok=True)
                frame.to_csv(path, index=False)
    return root


@pytest.fixture
def copied_scores(tmp_path):
    """The same scores under a neutral name and under a built-in method's name (if: negative = helpful), with a
    loo_corrected truth that they predict well."""
    truth = scores(seed=1)
    mine = truth + 0.3 * scores(seed=2)
    return score_folder(tmp_path / "scores", {"loo_corrected": truth, "mine": mine, "if": mine.copy()})


def analyse(capsys, *flags) -> str:
    with pytest.raises(SystemExit) as stop:
        run(script_main("run_correlation_analysis.py"), list(flags))
    out = capsys.readouterr().out
    assert stop.value.code == 0, out
    return out


def test_a_folder_named_like_a_builtin_method_keeps_the_sign_it_is_given_and_the_summary_says_so(copied_scores, tmp_path,
                                                                                               capsys, caplog):
    out = tmp_path / "res"
    with caplog.at_level(logging.WARNING):
        printed = analyse(capsys, "--scores-dir", str(copied_scores), "--out", str(out), "--truth", "loo_corrected")
    table = pd.read_csv(out / "methods.csv", index_col="method")
    assert table.loc["if", "loo_corr_mean"] == pytest.approx(table.loc["mine", "loo_corr_mean"])  # not flipped
    assert table.loc["mine", "loo_corr_mean"] > 0.5
    assert (table["helpful_sign"] == 1).all() and (table["loo_truth"] == "loo_corrected").all()
    assert "helpful signs: if +1, loo_corrected +1, mine +1; LOO ground truth: loo_corrected" in printed
    summary = (out / "summary.md").read_text()
    assert "`if` is named like the built-in method whose helpful sign is -1, but is read as given" in summary
    assert "pass --signs if=-1 (or --builtin-signs)" in summary and "if is named like the built-in method" in caplog.text


def test_signs_and_truth_given_by_flags_are_used_and_written(copied_scores, tmp_path, capsys):
    out = tmp_path / "res"
    printed = analyse(capsys, "--scores-dir", str(copied_scores), "--out", str(out), "--truth", "loo_corrected",
                      "--signs", "if=-1")
    table = pd.read_csv(out / "methods.csv", index_col="method")
    assert table.loc["if", "helpful_sign"] == -1
    assert table.loc["if", "loo_corr_mean"] == pytest.approx(-table.loc["mine", "loo_corr_mean"])
    assert "if -1" in printed
    assert "negative = helpful for if" in (out / "summary.md").read_text()
    out2 = tmp_path / "res2"
    analyse(capsys, "--scores-dir", str(copied_scores), "--out", str(out2), "--builtin-signs")
    table = pd.read_csv(out2 / "methods.csv", index_col="method")
    assert table.loc["if", "helpful_sign"] == -1 and table.loc["mine", "helpful_sign"] == 1
    assert "loo_corr_mean" not in table.columns  # no truth named: no LOO correlation, and the summary says why
    assert "`loo_corrected` is among the scores but not used as the LOO ground truth" in (out2 / "summary.md").read_text()


def test_a_truth_that_is_not_among_the_scores_is_refused_before_writing(copied_scores, tmp_path, capsys):
    line = refuse("run_correlation_analysis.py", ["--scores-dir", str(copied_scores), "--out", str(tmp_path / "res"),
                                                  "--truth", "loo"], capsys)
    assert "'loo' is given the truth role but is not among the scores" in line
    line = refuse("run_correlation_analysis.py", ["--scores-dir", str(copied_scores), "--out", str(tmp_path / "res"),
                                                  "--signs", "ifs=-1"], capsys)
    assert "--signs names 'ifs', which is not among the scores; methods: if, loo_corrected, mine" in line
    assert not (tmp_path / "res").exists()


# --- summary.md reads as sentences, whatever the number of methods and seeds ------------------------------------
@pytest.mark.parametrize("names", [["gd"], ["gd", "if"], ["loo", "ats", "if", "gd", "gc", "tracin", "trak", "rps", "ekfac",
                                                          "arnoldi", "if_converged", "loo_corrected"]])
def test_the_summary_reads_as_sentences_for_one_two_and_twelve_methods(names):
    summary = posterior_test({m: scores(seeds=10, seed=i) for i, m in enumerate(names)}).summary
    claims = summary.split("## The paper's claims")[1].split("##")[0]
    assert "nan" not in claims.lower() and " for 1;" not in claims and " for 2;" not in claims
    if len(names) < 3:
        assert "3. Ground truth" in claims and "not assessed: it needs loo or ats and two of if, gd and gc" in claims
    else:
        assert "not assessed" not in claims
    assert "the paper's z-test" in claims  # 10 seeds: the paper's test leads


def test_with_fewer_than_ten_seeds_the_summary_leads_with_the_predictive_rule_and_says_why():
    noise = scores(seeds=5, checkpoints=5, n_train=30, n_test=30, seed=3)
    result = posterior_test({"noise": noise})
    assert "lead with the predictive rule" in result.summary and "t(4)·√(1+1/5) in place of 1.96" in result.summary
    assert result.methods.loc["noise", "test"] == "predictive, 4 dof"
    rows = result.significance[(result.significance["test"] == "predictive, 4 dof") & (result.significance["K"] == 5)]
    assert result.methods.loc["noise", "mean_p"] == pytest.approx(rows["mean_p"].iloc[0])


def test_an_experiment_with_ten_seeds_keeps_the_papers_z_test_in_the_lead():
    result = posterior_test({"gd": scores(seeds=10)})
    assert result.methods.loc["gd", "test"] == "z (paper)" and "lead with the predictive rule" not in result.summary

