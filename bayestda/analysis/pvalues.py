"""p-value matrices per method and K, mean p-values, and the significance table."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.io import save_csv
from .classes import ItemClasses
from .posterior import PosteriorScores
from .statistics import TESTS, Z_TEST, benjamini_hochberg, named_test

log = logging.getLogger(__name__)

PREDICTIVE = "predictive"
MIN_SEEDS_FOR_Z = 10  # below this many seeds the summary leads with the predictive rule (the z-test's question)


def pvalue_frame(p: np.ndarray, post: PosteriorScores) -> pd.DataFrame:
    """A [n_train, n_test] matrix in the score files' layout (train_idx, then the test columns)."""
    frame = pd.DataFrame(p, columns=post.test_columns)
    frame.insert(0, "train_idx", post.train_idx)
    return frame


@dataclass
class PValues:
    """The p-values of every method and K: the significance table, the K x method mean p (z-test) and the
    [n_train, n_test] z-test matrices in the score files' layout."""

    table: pd.DataFrame
    mean_p: pd.DataFrame
    matrices: dict[str, pd.DataFrame]  # file name -> matrix


def class_split(p: np.ndarray, significant: np.ndarray, same: np.ndarray) -> dict:
    """The fraction of pairs with p < 0.05 and the Benjamini-Hochberg count (over all pairs, as the whole table's)
    among same-class and among cross-class pairs."""
    out = {}
    for name, mask in (("same_class", same), ("cross_class", ~same)):
        out[f"fraction_p_below_0.05_{name}"] = float((p[mask] < 0.05).mean()) if mask.any() else float("nan")
        out[f"significant_after_BH_5%_{name}"] = int(significant[mask].sum())
    return out


def pvalue_tables(posteriors: dict[str, PosteriorScores], classes: ItemClasses | None = None) -> PValues:
    """Every p-value, in memory (K is the number of last checkpoints averaged per seed before the statistics
    across seeds, the paper's); with the items' classes, each row also splits its pairs into same-class and
    cross-class ones."""
    ks = range(1, max(p.num_checkpoints for p in posteriors.values()) + 1)
    mean_p = pd.DataFrame(index=pd.Index(list(ks), name="K"))
    rows, matrices = [], {}
    first = next(iter(posteriors.values()))
    same = None if classes is None else classes.check(len(first.train_idx), len(first.test_idx)).same()
    for method, post in posteriors.items():
        seeds = len(post.seeds)
        for k in range(1, post.num_checkpoints + 1):
            samples = post.last_k_mean(k)
            for test in TESTS:
                p = test.pvalues(samples)
                if test.key == "z":
                    matrices[f"pvalues_{method}_across_{k}_ckpts.csv"] = pvalue_frame(p, post)
                    mean_p.loc[k, method] = p.mean()
                significant = benjamini_hochberg(p)
                rows.append({"method": method, "K": k, "test": test.label(seeds), "question": test.question,
                             "mean_p": p.mean(),
                             "fraction_p_below_0.05": float((p < 0.05).mean()),
                             "significant_after_BH_5%": int(significant.sum()), "pairs": p.size, "seeds": seeds,
                             **({} if same is None else class_split(p, significant, same))})
    return PValues(pd.DataFrame(rows), mean_p, matrices)


def save_pvalues(pvalues: PValues, out: Path) -> None:
    """pvalues_<method>_across_<K>_ckpts.csv, mean_p_values.csv and significance.csv in `out`."""
    for name, frame in pvalues.matrices.items():
        save_csv(frame, out / name)
    save_csv(pvalues.mean_p, out / "mean_p_values.csv", index=True)
    save_csv(pvalues.table, out / "significance.csv")
    log.info("wrote p-values of %d methods to %s", pvalues.table["method"].nunique(), out)


def compute_pvalues(posteriors: dict[str, PosteriorScores], out: Path | None = None,
                    classes: ItemClasses | None = None) -> pd.DataFrame:
    """The significance table (one row per method, K and test; split by class where `classes` are given); with
    `out`, every p-value file is written there once all are computed."""
    pvalues = pvalue_tables(posteriors, classes)
    if out is not None:
        save_pvalues(pvalues, out)
    return pvalues.table


def lead_test(significance: pd.DataFrame) -> str:
    """The key of the test that the summary and methods.csv lead with: the paper's z-test ("z") with 10 or more
    seeds, as the paper; with fewer, the predictive rule, which asks the z-test's question (will one model's score
    keep μ's sign?) with the small-sample threshold t(S−1)·√(1 + 1/S) in place of 1.96, which is lax for few seeds."""
    return "z" if significance["seeds"].min() >= MIN_SEEDS_FOR_Z else PREDICTIVE


def keys_of_tests(significance: pd.DataFrame) -> pd.Series:
    """The key ("z", "t", "sign", "predictive") of each row's test."""
    return significance["test"].map(lambda label: named_test(label).key)


def lead_rows(significance: pd.DataFrame, test: str) -> pd.DataFrame:
    """The rows of one test, by its key or by a row's label ("z (paper)"), whatever each method's degrees of freedom."""
    key = "z" if test == Z_TEST else named_test(test).key if "," in test else test
    return significance[keys_of_tests(significance) == key]


def at_largest_k(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of a per-method, per-K table at each method's largest K (TracInCP's is 1, the others' 5)."""
    return frame[frame["K"] == frame.groupby("method")["K"].transform("max")]


def mean_pvalues(significance: pd.DataFrame, test: str = "z") -> pd.DataFrame:
    """K x method table of mean p-values under one test (by key; default the paper's z-test)."""
    paper = lead_rows(significance, test)
    return paper.pivot(index="K", columns="method", values="mean_p")[list(dict.fromkeys(paper["method"]))]
