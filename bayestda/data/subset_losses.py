"""What LDS is computed against: the train subsets and the test losses of the models trained on them.

Made by the LDS retraining (bayestda.training.lds) for an experiment, or by anyone for their own scores
(`posterior_test(..., subset_losses=SubsetLosses(...))`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.errors import BadInput


@dataclass(frozen=True)
class SubsetLosses:
    """What LDS is computed against: subsets [M, n_train] (True = the item was trained on) and the test losses of
    the models trained on them, [n_seeds, M, n_test], for the train and test items of the score files."""

    subsets: np.ndarray
    losses: np.ndarray
    train_idx: np.ndarray
    test_idx: np.ndarray
    target: str = "given"  # which models the losses are of (methods.csv's lds_target column)

    def __post_init__(self) -> None:
        if self.subsets.ndim != 2 or self.losses.ndim != 3 or self.losses.shape[1] != self.subsets.shape[0]:
            raise BadInput(f"subset losses: subsets {self.subsets.shape} and losses {self.losses.shape} do not "
                           "match; expected [M, n_train] and [seeds, M, n_test]")
        if self.subsets.shape[1] != len(self.train_idx) or self.losses.shape[2] != len(self.test_idx):
            raise BadInput("subset losses: their train or test items do not match the subsets' shapes")
        if not np.isfinite(self.losses).all():
            raise BadInput("subset losses hold NaN or infinite test losses; retrain the subset models")
