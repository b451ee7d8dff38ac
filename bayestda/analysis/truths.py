"""Three truths side by side: the warm-started LOO (`loo_corrected`, the regime influence functions model), the
from-scratch LOO (`loo_scratch`: each posterior seed's run without the item, from its own initialisation and batch
order) and LDS (models retrained from scratch on halves). How the truths agree with each other (truths.csv), and
each method's within-class rank under each (in summary.md; the values are methods.csv's columns).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..data.subset_losses import SubsetLosses
from .classes import ItemClasses
from .metrics import TruthTargets, bounds, lds_resampled, loo_resampled
from .posterior import PosteriorScores
from .resampling import Draws

RANKED = (("loo_corr_within_class_mean", "warm-started LOO"), ("loo_scratch_corr_within_class_mean", "from-scratch LOO"),
          ("lds_within_class_mean", "LDS"))


def from_scratch_scores(losses: SubsetLosses, seeds: list) -> PosteriorScores:
    """The from-scratch LOO truth as scores [seeds, 1, n_train, n_test]: a seed's test loss without the item minus
    with every item (row 0 of the losses: the full run); positive = the item helped the test item."""
    values = losses.losses[:, 1:, :] - losses.losses[:, :1, :]
    return PosteriorScores("loo_scratch", values[:, None], list(seeds), ["from scratch"], losses.train_idx,
                           losses.test_idx)


def agreement(truths: dict[str, PosteriorScores], signs: dict[str, int], draws: Draws, classes: ItemClasses | None,
              subset_losses: SubsetLosses | None, within_class_losses: SubsetLosses | None) -> pd.DataFrame:
    """truths.csv: each LOO truth's posterior mean against each other one (Spearman, all items and within class) and
    against the LDS targets, with intervals (the same draws as methods.csv)."""
    rows = []
    for name, scores in truths.items():
        sign = signs.get(name, 1)
        row = {"truth": name}
        for other, reference in truths.items():
            if other == name:
                continue
            for suffix, within in (("", None), ("_within_class", classes)):
                if suffix and within is None:
                    continue
                value = loo_resampled(scores, TruthTargets.of(reference, draws, signs.get(other, 1), classes=within),
                                      scores.num_checkpoints, draws, sign)
                column = f"vs_{other}{suffix}"
                row[column] = value.mean
                row[bounds(column)[0]], row[bounds(column)[1]] = value.interval("mean")
        for column, losses in (("lds", subset_losses), ("lds_within_class", within_class_losses)):
            if losses is not None:
                value = lds_resampled(scores, losses, scores.num_checkpoints, draws, sign)
                row[column] = value.mean
                row[bounds(column)[0]], row[bounds(column)[1]] = value.interval("mean")
        rows.append(row)
    return pd.DataFrame(rows).set_index("truth")


def ranks_under_truths(methods: pd.DataFrame, excluded: set[str]) -> pd.DataFrame:
    """Per method, its within-class value and rank (1 = best) under each truth present in methods.csv."""
    present = [(c, t) for c, t in RANKED if c in methods.columns]
    rows = methods.loc[[m for m in methods.index if m not in excluded]]
    view = pd.DataFrame(index=rows.index)
    for column, title in present:
        view[title] = rows[column].map(lambda v: "-" if np.isnan(v) else f"{v:.2f}")
        view[f"rank ({title})"] = rows[column].rank(ascending=False, method="min")
    view.index.name = "method"
    return view
