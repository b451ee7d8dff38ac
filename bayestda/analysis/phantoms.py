"""Phantom items: a null with the real marginals and a known truth.

Held-out images that no model of the experiment trained on are scored by every method as if they were train items,
on the same checkpoints (the curvature and the retrained models stay the training set's). Their true effect on
every test item is exactly 0 (leaving out an item the model never saw changes nothing), so any pair a test passes
is trust given where there is nothing to find: each test's false-trust rate on the method's own scores, beside the
rate on the real train items. With a truth, the within-class LOO correlation over the train and phantom items
together (the phantoms' truth 0) says whether a method ranks the never-seen items below the ones that matter.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .classes import ItemClasses
from .metrics import bootstrap_interval, within_class_per_column
from .posterior import PosteriorScores
from .statistics import TESTS


def _interval(per_item: np.ndarray) -> tuple[float, float]:
    """95% bootstrap interval of a per-test-item mean (test items resampled; seeds and phantoms held fixed)."""
    return bootstrap_interval(per_item) if np.isfinite(per_item).sum() > 1 else (float("nan"), float("nan"))


def _with_phantoms(method_mean: np.ndarray, phantom_mean: np.ndarray, truth_mean: np.ndarray,
                   classes: ItemClasses, phantom_labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per test item: the within-class Spearman of the method's posterior mean with the truth's over the train items
    only, and over the train and phantom items (the phantoms' truth exactly 0)."""
    alone = within_class_per_column(method_mean, truth_mean, classes)
    both = ItemClasses(np.concatenate([classes.train, phantom_labels]), classes.test)
    together = within_class_per_column(np.vstack([method_mean, phantom_mean]),
                                       np.vstack([truth_mean, np.zeros_like(phantom_mean)]), both)
    return alone, together


def phantom_table(posteriors: dict[str, PosteriorScores], phantoms: dict[str, PosteriorScores], ks: dict[str, int],
                  signs: dict[str, int], truth: str | None = None, classes: ItemClasses | None = None,
                  phantom_labels: np.ndarray | None = None) -> pd.DataFrame:
    """phantoms.csv: per method with phantom scores and per test, the fraction of train pairs and of phantom pairs
    (the false-trust rate) at p < 0.05 at the method's K, the phantoms' mean |μ| over the train items', and (with a
    truth and classes) the within-class LOO correlation without and with the phantom items; intervals over test
    items (`_cond_`: the seeds and the phantom draw held fixed)."""
    truth_mean = None
    if truth is not None and truth in posteriors:
        truth_mean = signs.get(truth, 1) * posteriors[truth].last_k_mean(ks.get(truth, 1)).mean(0)
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
        if truth_mean is not None and classes is not None and phantom_labels is not None:
            alone, together = _with_phantoms(signs.get(method, 1) * real_mean, signs.get(method, 1) * ghost_mean,
                                             truth_mean, classes, phantom_labels)
            for name, per_item in (("loo_corr_within_class", alone), ("loo_corr_within_class_with_phantoms", together),
                                   ("phantom_effect_on_loo_corr_within_class", together - alone)):
                lo, hi = _interval(per_item)
                common.update({name: float(np.nanmean(per_item)), f"{name}_cond_lo": lo, f"{name}_cond_hi": hi})
        for test in TESTS:
            real_pass, ghost_pass = test.passing(real), test.passing(ghost)
            per_item = ghost_pass.mean(axis=0)
            lo, hi = _interval(per_item)
            rows.append({**common, "test": test.label(real.shape[0]), "fraction_train_pairs": float(real_pass.mean()),
                         "false_trust_rate": float(per_item.mean()), "false_trust_rate_cond_lo": lo,
                         "false_trust_rate_cond_hi": hi})
    order = ["method", "test", "K", "phantoms", "fraction_train_pairs", "false_trust_rate", "false_trust_rate_cond_lo",
             "false_trust_rate_cond_hi", "phantom_over_train_abs_mean"]
    frame = pd.DataFrame(rows)
    return frame[order + [c for c in frame.columns if c not in order]] if len(frame) else frame
