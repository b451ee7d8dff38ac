"""A null with the real marginals: the posterior test on scores whose train items are shuffled per seed.

Each seed's score matrix keeps its values but its train items are permuted (the same permutation for every
checkpoint of the seed, a new one for each seed), so a "pair" now joins different items in different seeds: every
seed's distribution of scores, and its scale, stays as it was, and only the pairing across seeds is broken. The
fraction of such pairs a test passes is its false-trust rate on this method's own marginals. Two versions: items
shuffled among all train items, and only within their class (each seed keeps which class an item is, so what
survives is trust explained by the class alone). `NULL_DRAWS` permutations, their fractions averaged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .classes import ItemClasses
from .posterior import PosteriorScores
from .resampling import BOOTSTRAP_SEED
from .statistics import TESTS, fractions_passing

NULL_DRAWS = 5


def shuffled(samples: np.ndarray, rng: np.random.Generator, classes: ItemClasses | None = None) -> np.ndarray:
    """samples [S, n_train, n_test] with each seed's train items permuted (within their class where given)."""
    out = np.empty_like(samples)
    groups = [np.arange(samples.shape[1])] if classes is None else [
        np.flatnonzero(classes.train == label) for label in np.unique(classes.train)]
    for s in range(len(samples)):
        order = np.arange(samples.shape[1])
        for group in groups:
            order[group] = rng.permutation(group)
        out[s] = samples[s, order]
    return out


def null_table(posteriors: dict[str, PosteriorScores], ks: dict[str, int],
               classes: ItemClasses | None = None) -> pd.DataFrame:
    """nulls.csv: per method and test, the fraction of pairs at p < 0.05 observed and under each shuffle."""
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    rows = []
    for method, scores in posteriors.items():
        samples = scores.last_k_mean(ks[method])
        versions = {"all": None, **({"within_class": classes} if classes is not None else {})}
        fractions = {name: {t.key: 0.0 for t in TESTS} for name in versions}
        for _ in range(NULL_DRAWS):
            for name, within in versions.items():
                for key, value in fractions_passing(shuffled(samples, rng, within)).items():
                    fractions[name][key] += value / NULL_DRAWS
        for test in TESTS:
            row = {"method": method, "test": test.label(len(scores.seeds)), "K": ks[method],
                   "fraction_observed": float(test.passing(samples).mean()),
                   "fraction_shuffled_items": fractions["all"][test.key]}
            if "within_class" in fractions:
                row["fraction_shuffled_within_class"] = fractions["within_class"][test.key]
            rows.append(row)
    return pd.DataFrame(rows)
