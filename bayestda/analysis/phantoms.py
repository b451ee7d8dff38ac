"""Phantom items: a null with the real marginals and a known truth.

Held-out images that no model of the experiment trained on are scored by every method as if they were train items,
on the same checkpoints (the curvature and the retrained models stay the training set's). Their true effect on
every test item is exactly 0 (leaving out an item the model never saw changes nothing), so any pair a test passes
is trust given where there is nothing to find: each test's false-trust rate on the method's own scores, beside the
rate on the real train items. With a truth, the within-class LOO correlation over the train and phantom items
together (the phantoms' truth 0) says whether a method ranks the never-seen items below the ones that matter; with
the LDS targets, each subset also "holds" half of the phantoms (drawn once; half of each class's for the
class-stratified halves), which its models never saw: what a method predicts from them is noise in its LDS.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..data.subset_losses import SubsetLosses
from .classes import ItemClasses
from .metrics import bootstrap_interval, bounds, spearman_per_column, within_class_per_column
from .posterior import PosteriorScores
from .resampling import BOOTSTRAP_SEED
from .statistics import TESTS

LDS_DESIGNS = (("lds", False), ("lds_within_class", True))  # (column, class-stratified halves)


def _with_interval(name: str, per_item: np.ndarray) -> dict[str, float]:
    """{name: the mean over test items, and its `_cond_` 95% bootstrap interval} (test items resampled; seeds and
    phantoms held fixed)."""
    interval = bootstrap_interval(per_item) if np.isfinite(per_item).sum() > 1 else (float("nan"), float("nan"))
    return {name: float(np.nanmean(per_item)), **dict(zip(bounds(name), interval))}


def _with_phantoms(method_mean: np.ndarray, phantom_mean: np.ndarray, truth_mean: np.ndarray,
                   classes: ItemClasses, phantom_labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per test item: the within-class Spearman of the method's posterior mean with the truth's over the train items
    only, and over the train and phantom items (the phantoms' truth exactly 0)."""
    alone = within_class_per_column(method_mean, truth_mean, classes)
    both = ItemClasses(np.concatenate([classes.train, phantom_labels]), classes.test)
    together = within_class_per_column(np.vstack([method_mean, phantom_mean]),
                                       np.vstack([truth_mean, np.zeros_like(phantom_mean)]), both)
    return alone, together


def phantom_on_top(method_mean: np.ndarray, phantom_mean: np.ndarray, classes: ItemClasses,
                   phantom_labels: np.ndarray) -> np.ndarray:
    """Per test item, 1.0 where the largest |posterior mean| among its class's train and phantom items is a
    phantom's (the item a reader of the scores would be shown first), else 0.0."""
    out = np.zeros(len(classes.test))
    for label in np.unique(classes.test):
        test = np.flatnonzero(classes.test == label)
        train_top = np.abs(method_mean[classes.train == label][:, test]).max(axis=0, initial=0.0)
        phantom_top = np.abs(phantom_mean[phantom_labels == label][:, test]).max(axis=0, initial=0.0)
        out[test] = (phantom_top > train_top).astype(float)
    return out


def phantom_halves(subsets: int, labels: np.ndarray, stratified: bool) -> np.ndarray:
    """[M, n_phantom] the half of the phantom items each LDS subset "holds" (random halves, or half of each class's),
    drawn with a fixed generator: what the subsets' models never saw."""
    rng = np.random.default_rng([BOOTSTRAP_SEED, int(stratified)])
    groups = [np.flatnonzero(labels == c) for c in np.unique(labels)] if stratified else [np.arange(len(labels))]
    out = np.zeros((subsets, len(labels)), dtype=bool)
    for m in range(subsets):
        for group in groups:
            out[m, rng.choice(group, len(group) // 2, replace=False)] = True
    return out


def _lds_with_phantoms(method_mean: np.ndarray, phantom_mean: np.ndarray, targets: SubsetLosses,
                       halves: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per test item, the posterior mean's LDS over the train items alone and with each subset's phantom half."""
    subsets, actual = targets.subsets.astype(np.float64), -targets.losses.mean(axis=0)
    alone = subsets @ method_mean
    return (spearman_per_column(alone, actual),
            spearman_per_column(alone + halves.astype(np.float64) @ phantom_mean, actual))


def phantom_table(posteriors: dict[str, PosteriorScores], phantoms: dict[str, PosteriorScores], ks: dict[str, int],
                  signs: dict[str, int], truth: str | None = None, classes: ItemClasses | None = None,
                  phantom_labels: np.ndarray | None = None, subset_losses: SubsetLosses | None = None,
                  within_class_losses: SubsetLosses | None = None) -> pd.DataFrame:
    """phantoms.csv: per method with phantom scores and per test, the fraction of train pairs and of phantom pairs
    (the false-trust rate) at p < 0.05 at the method's K, the phantoms' mean |μ| over the train items', and (with a
    truth and classes) the within-class LOO correlation without and with the phantom items, and (with the LDS
    targets) the LDS without and with each subset's phantom half; intervals over test items (`_cond_`: the seeds,
    the phantom draw and the LDS models held fixed); with classes, the share of test items whose largest |μ| within
    their class is a phantom's."""
    truth_mean = None
    if truth is not None and truth in posteriors:
        truth_mean = signs.get(truth, 1) * posteriors[truth].last_k_mean(ks.get(truth, 1)).mean(0)
    targets = {"lds": subset_losses, "lds_within_class": within_class_losses}
    halves = {column: phantom_halves(len(targets[column].subsets), phantom_labels, stratified)
              for column, stratified in LDS_DESIGNS if targets[column] is not None and phantom_labels is not None}
    rows = []
    for method, fake in phantoms.items():
        if method not in posteriors or method not in ks:
            continue
        k = min(ks[method], fake.num_checkpoints)
        real, ghost = posteriors[method].last_k_mean(k), fake.last_k_mean(k)
        real_mean, ghost_mean = real.mean(0), ghost.mean(0)
        scale = float(np.abs(real_mean).mean())
        common = {"method": method, "K": k, "phantoms": ghost.shape[1],
                  "phantom_over_train_abs_mean": float(np.abs(ghost_mean).mean()) / scale if scale > 0 else float("nan")}
        if classes is not None and phantom_labels is not None:
            common.update(_with_interval("phantom_on_top_within_class",
                                         phantom_on_top(real_mean, ghost_mean, classes, phantom_labels)))
        if truth_mean is not None and classes is not None and phantom_labels is not None:
            alone, together = _with_phantoms(signs.get(method, 1) * real_mean, signs.get(method, 1) * ghost_mean,
                                             truth_mean, classes, phantom_labels)
            for name, per_item in (("loo_corr_within_class", alone), ("loo_corr_within_class_with_phantoms", together),
                                   ("phantom_effect_on_loo_corr_within_class", together - alone)):
                common.update(_with_interval(name, per_item))
        for column, half in halves.items():
            alone, together = _lds_with_phantoms(signs.get(method, 1) * real_mean, signs.get(method, 1) * ghost_mean,
                                                 targets[column], half)
            for name, per_item in ((column, alone), (f"{column}_with_phantoms", together)):
                common.update(_with_interval(name, per_item))
        for test in TESTS:
            rows.append({**common, "test": test.label(real.shape[0]),
                         "fraction_train_pairs": float(test.passing(real).mean()),
                         **_with_interval("false_trust_rate", test.passing(ghost).mean(axis=0))})
    order = ["method", "test", "K", "phantoms", "fraction_train_pairs", "false_trust_rate", "false_trust_rate_cond_lo",
             "false_trust_rate_cond_hi", "phantom_over_train_abs_mean"]
    frame = pd.DataFrame(rows)
    return frame[order + [c for c in frame.columns if c not in order]] if len(frame) else frame
