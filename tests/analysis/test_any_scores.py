"""The posterior test for anyone's scores, without an experiment of this repository: from arrays (numpy or
torch) and from a folder of score files in the paper's layout, with one clear line for every bad input."""

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from bayestda.analysis import ItemClasses, PosteriorScores, load_scores_dir, posterior_test
from bayestda.core.errors import BayesTDAError
from bayestda.core.paths import REPO_ROOT
from bayestda.results.analysis import load_posterior

RNG = np.random.default_rng(1)
SEEDS, CKPTS, N_TRAIN, N_TEST = 4, 3, 12, 7


def scores(mean: float = 0.0) -> np.ndarray:
    """(seeds, checkpoints, train, test): a per-pair signal `mean`·pattern plus seed and checkpoint noise."""
    pattern = RNG.normal(size=(N_TRAIN, N_TEST))
    return mean * pattern + RNG.normal(size=(SEEDS, 1, N_TRAIN, N_TEST)) + 0.3 * RNG.normal(size=(SEEDS, CKPTS, N_TRAIN, N_TEST))


def write_folder(root, arrays: dict, seed_names=("s1", "s2", "s10", "s3"), ckpt_names=("9", "10", "11")):
    for method, array in arrays.items():
        for s, seed in enumerate(seed_names):
            for c, ckpt in enumerate(ckpt_names):
                path = root / method / seed / f"attribution_ckpt_{ckpt}.csv"
                path.parent.mkdir(parents=True, exist_ok=True)
                frame = pd.DataFrame(array[s, c], columns=[f"z_test_{100 + j}" for j in range(N_TEST)])
                frame.insert(0, "train_idx", np.arange(N_TRAIN) * 3)
                frame.to_csv(path, index=False)
    return root


def analyse(script, *flags):
    return subprocess.run([sys.executable, str(REPO_ROOT / script), *flags], capture_output=True, text=True,
                          env=os.environ.copy(), cwd=REPO_ROOT)


def test_arrays_give_the_papers_z_test_and_a_t_test_with_seeds_minus_one_dof(tmp_path):
    noisy, strong = scores(0.0), scores(5.0)
    result = posterior_test({"noisy": noisy, "strong": torch.from_numpy(strong)}, out=tmp_path / "out")
    samples = strong[:, -2:].mean(axis=1)  # K = 2: each seed's last two checkpoints averaged first
    mu, sigma = samples.mean(0), samples.std(0, ddof=1)
    z_p = 2 * stats.norm.sf(np.abs(mu / sigma))
    t_p = stats.ttest_1samp(samples, 0.0, axis=0).pvalue
    table = result.significance.set_index(["method", "K", "test"])
    assert table.loc[("strong", 2, "z (paper)"), "mean_p"] == pytest.approx(z_p.mean())
    assert table.loc[("strong", 2, f"t, {SEEDS - 1} dof"), "mean_p"] == pytest.approx(t_p.mean())
    written = pd.read_csv(tmp_path / "out" / "pvalues_strong_across_2_ckpts.csv")
    assert np.allclose(written.iloc[:, 1:].to_numpy(), z_p)
    assert list(result.mean_p_values.index) == [1, 2, 3]
    assert result.mean_p_values.loc[3, "strong"] < result.mean_p_values.loc[3, "noisy"]
    assert set(result.noise["method"]) == {"noisy", "strong"}
    assert result.correlations["spearman_corr_mu"].shape == (2, 2)
    assert "4 seeds x 3 checkpoints" in result.summary


@pytest.mark.slow
def test_a_folder_in_the_papers_layout_gives_what_an_experiment_gives(tmp_path):
    arrays = {"mine": scores(2.0), "theirs": scores(0.5)}
    folder = write_folder(tmp_path / "scores", arrays)
    posteriors = load_scores_dir(folder)
    assert posteriors["mine"].seeds == ["s1", "s2", "s3", "s10"] and posteriors["mine"].epochs == ["9", "10", "11"]
    reordered = arrays["mine"][[0, 1, 3, 2]]  # natural order of the seed names
    assert np.allclose(posteriors["mine"].values, reordered)
    out = tmp_path / "out"
    for script in ("run_compute_pvalues.py", "run_correlation_analysis.py"):
        result = analyse(script, "--scores-dir", str(folder), "--out", str(out))
        assert result.returncode == 0, result.stderr
    mean_p = pd.read_csv(out / "mean_p_values.csv", index_col="K")
    assert list(mean_p.index) == [1, 2, 3] and list(mean_p.columns) == ["mine", "theirs"]
    for name in ["pvalues_mine_across_3_ckpts.csv", "pvalues_theirs_across_1_ckpts.csv", "significance.csv",
                 "spearman_corr_mu.csv", "pearson_corr_snr.csv", "noise_decomposition.csv", "spearman_corr.png",
                 "pearson_corr.pdf", "noise_decomposition.png", "summary.md"]:
        assert (out / name).exists(), name
    p = pd.read_csv(out / "pvalues_mine_across_3_ckpts.csv")
    assert p["train_idx"].tolist() == list(np.arange(N_TRAIN) * 3) and p.columns[1] == "z_test_100"
    expected = posterior_test({"mine": reordered}).significance
    written = pd.read_csv(out / "significance.csv")
    assert np.allclose(written[written["method"] == "mine"]["mean_p"], expected["mean_p"])


def test_an_experiments_files_load_as_before(small_run):
    experiment, seeds, _ = small_run
    post = load_posterior(experiment, "gd", seeds)
    assert isinstance(post, PosteriorScores) and post.values.shape == (3, 5, 100, 10)
    assert post.test_columns[0].startswith("z_test_") and post.epochs == [10, 11, 12, 13, 14]


def corrupt(folder, how):
    """One bad input of each kind the analysis must refuse."""
    first = folder / "mine" / "s1" / "attribution_ckpt_9.csv"
    frame = pd.read_csv(first)
    if how == "other checkpoints":
        (folder / "mine" / "s2" / "attribution_ckpt_11.csv").rename(folder / "mine" / "s2" / "attribution_ckpt_12.csv")
    elif how == "other train items":
        frame.loc[0, "train_idx"] = 999
        frame.to_csv(first, index=False)
    elif how == "other test items":
        frame.rename(columns={"z_test_100": "z_test_5"}).to_csv(first, index=False)
    elif how == "NaN cell":
        frame.iloc[2, 3] = np.nan
        frame.to_csv(first, index=False)
    elif how == "non-numeric cell":
        frame = frame.astype(object)
        frame.iloc[1, 2] = "abc"
        frame.to_csv(first, index=False)
    elif how == "truncated file":
        text = first.read_text()
        first.write_text(text[: len(text) // 2])
    elif how == "a single seed":
        for seed in ("s2", "s3", "s10"):
            for path in (folder / "mine" / seed).iterdir():
                path.unlink()
    elif how == "an empty folder":
        for path in sorted(folder.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
    return first


@pytest.mark.parametrize("how, message", [
    ("other checkpoints", "every seed of a method needs the same checkpoints"),
    ("other train items", "has other train items"),
    ("other test items", "has other test columns"),
    ("NaN cell", "empty, NaN or non-numeric cells (first: row 3"),
    ("non-numeric cell", "'abc'"),
    ("truncated file", "attribution_ckpt_9.csv"),
    ("a single seed", "needs at least 2 seeds"),
    ("an empty folder", "no score files in"),
])
@pytest.mark.slow
def test_bad_input_gets_one_line_a_nonzero_exit_and_nothing_written(tmp_path, how, message):
    folder = write_folder(tmp_path / "scores", {"mine": scores(1.0)})
    corrupt(folder, how)
    out = tmp_path / "out"
    result = analyse("run_compute_pvalues.py", "--scores-dir", str(folder), "--out", str(out))
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]  # the rest: progress bars
    assert len(errors) == 1 and message in errors[0] and "Traceback" not in result.stderr, result.stderr
    assert not out.exists()


def test_arrays_with_one_seed_or_nan_are_refused():
    with pytest.raises(BayesTDAError, match="needs at least 2"):
        posterior_test({"x": scores()[:1]})
    bad = scores()
    bad[1, 2, 3, 4] = np.nan
    with pytest.raises(BayesTDAError, match=r"first at \[seed, checkpoint, train, test\] = \[1, 2, 3, 4\]"):
        posterior_test({"x": bad})


def test_importing_and_running_the_analysis_leaves_matplotlibs_backend_alone(tmp_path):
    code = ("import matplotlib; matplotlib.use('svg'); import numpy as np; import bayestda.analysis as a; "
            "a.posterior_test({'x': np.random.default_rng(0).normal(size=(3, 2, 4, 5))}, out=r'%s'); "
            "print(matplotlib.get_backend())" % (tmp_path / "out"))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "svg" and (tmp_path / "out" / "spearman_corr.png").exists()


@pytest.mark.slow
def test_a_folders_classes_file_splits_the_pairs_and_adds_the_within_class_metric(tmp_path):
    truth = scores(2.0)
    folder = write_folder(tmp_path / "scores", {"mine": scores(2.0), "truth": truth})
    train_labels, test_labels = np.arange(N_TRAIN) % 3, np.arange(N_TEST) % 3
    rows = [("train", i * 3, train_labels[i]) for i in range(N_TRAIN)] + \
        [("test", 100 + j, test_labels[j]) for j in range(N_TEST)]
    pd.DataFrame(rows, columns=["split", "item", "label"]).to_csv(tmp_path / "classes.csv", index=False)
    out = tmp_path / "out"
    for script in ("run_compute_pvalues.py", "run_correlation_analysis.py"):
        result = analyse(script, "--scores-dir", str(folder), "--out", str(out), "--truth", "truth", "--classes",
                         str(tmp_path / "classes.csv"))
        assert result.returncode == 0, result.stderr
    methods = pd.read_csv(out / "methods.csv").set_index("method")
    direct = posterior_test(load_scores_dir(folder), truth="truth",
                            classes=ItemClasses(train_labels, test_labels)).methods
    assert methods.loc["mine", "loo_corr_within_class_mean"] == pytest.approx(direct.loc["mine", "loo_corr_within_class_mean"])
    significance = pd.read_csv(out / "significance.csv")
    assert {"fraction_p_below_0.05_same_class", "significant_after_BH_5%_cross_class"} <= set(significance.columns)
    pd.DataFrame(rows[:-1], columns=["split", "item", "label"]).to_csv(tmp_path / "short.csv", index=False)
    result = analyse("run_compute_pvalues.py", "--scores-dir", str(folder), "--out", str(tmp_path / "o2"), "--classes",
                     str(tmp_path / "short.csv"))
    assert result.returncode == 2 and result.stderr.strip().splitlines()[-1].endswith(
        "gives no label for test item 106 (1 of 7 test items have none)")
