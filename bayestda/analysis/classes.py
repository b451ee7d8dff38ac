"""The class of every train and test item, in the scores' order: what splits the posterior test into same-class
and cross-class pairs and restricts the within-class metrics to the train items of a test item's class.

Random halves of a few classes differ in class make-up, and a label alone (the `same_class` control) predicts
much of what LOO and LDS measure; the within-class views say what a method knows beyond the label.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.errors import BadInput


@dataclass(frozen=True)
class ItemClasses:
    """Labels of the train items [n_train] and of the test items [n_test], in the order the scores hold them."""

    train: np.ndarray
    test: np.ndarray

    def __post_init__(self) -> None:
        if np.ndim(self.train) != 1 or np.ndim(self.test) != 1:
            raise BadInput(f"item classes: train {np.shape(self.train)} and test {np.shape(self.test)} labels must "
                           "be 1-D, one per item")

    def check(self, n_train: int, n_test: int) -> ItemClasses:
        """These classes, or one line saying they do not match the scores' items."""
        if len(self.train) != n_train or len(self.test) != n_test:
            raise BadInput(f"item classes give {len(self.train)} train and {len(self.test)} test labels; the scores "
                           f"have {n_train} train and {n_test} test items")
        return self

    def same(self) -> np.ndarray:
        """[n_train, n_test] True where the train item's class is the test item's."""
        return np.asarray(self.train)[:, None] == np.asarray(self.test)[None, :]

    def blocks(self):
        """Per class present among the test items: (train positions, test positions) of that class."""
        for label in np.unique(self.test):
            yield np.flatnonzero(self.train == label), np.flatnonzero(self.test == label)


def read_classes(path, train_idx, test_idx) -> ItemClasses:
    """The classes of a score folder's items from a CSV with columns split (train or test), item and label (items
    named as in the score files: train_idx values, test columns without `z_test_`), or one line naming what is
    missing or wrong."""
    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype={"split": str, "item": str})
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise BadInput(f"--classes {path}: cannot be read ({type(error).__name__}); expected a CSV with columns "
                       "split,item,label") from None
    if not {"split", "item", "label"} <= set(frame.columns):
        raise BadInput(f"--classes {path} has columns {', '.join(map(str, frame.columns))}; expected split,item,label "
                       "(split: train or test)")
    labels = {}
    for split, items in (("train", train_idx), ("test", test_idx)):
        known = dict(zip(frame.loc[frame["split"] == split, "item"], frame.loc[frame["split"] == split, "label"]))
        absent = [str(i) for i in items if str(i) not in known]
        if absent:
            raise BadInput(f"--classes {path} gives no label for {split} item {absent[0]} ({len(absent)} of "
                           f"{len(items)} {split} items have none)")
        labels[split] = np.array([known[str(i)] for i in items])
    return ItemClasses(labels["train"], labels["test"])
