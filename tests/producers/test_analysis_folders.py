"""One folder, one analysis: an analysis of some of an experiment's methods writes a folder of its own and leaves
the other's tables as they were, and every table of a folder names exactly the methods it holds."""

from __future__ import annotations

import pandas as pd

from bayestda import provenance
from bayestda.results.analysis import run_correlations, run_pvalues


def tables(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def assert_names_exactly(folder, methods):
    assert set(pd.read_csv(folder / "significance.csv")["method"]) == set(methods)
    assert set(pd.read_csv(folder / "mean_p_values.csv", index_col="K").columns) == set(methods)
    assert set(pd.read_csv(folder / "methods.csv")["method"]) == set(methods)
    assert set(pd.read_csv(folder / "noise_decomposition.csv")["method"]) == set(methods)
    assert set(pd.read_csv(folder / "spearman_corr_mu.csv", index_col=0).index) == set(methods)
    written = {p.name.split("_across_")[0].removeprefix("pvalues_") for p in folder.glob("pvalues_*_across_*.csv")}
    assert written == set(methods)
    for name in ("significance.csv", "methods.csv", "summary.md"):
        record = provenance.read(folder / name)
        assert record["what"]["methods"] == list(methods) and provenance.is_current(folder / name)


def test_a_full_run_then_one_method_again_leaves_the_full_runs_tables_as_they_were(small_run):
    experiment, seeds, methods = small_run
    run_pvalues(experiment, methods, seeds)
    run_correlations(experiment, methods, seeds, lds_subsets=0)
    full = experiment.analysis_dir(methods, seeds)
    before = tables(full)
    again = ["gd", "if"]
    run_pvalues(experiment, again, seeds)
    run_correlations(experiment, again, seeds, lds_subsets=0)
    part = experiment.analysis_dir(again, seeds)
    assert part != full and part.parent == full.parent == experiment.results_dir()
    assert tables(full) == before
    assert_names_exactly(full, methods)
    assert_names_exactly(part, again)
