"""Views of the paper's checkpoints: the same score files, other posterior samples (nothing is recomputed)."""

from __future__ import annotations

import numpy as np

from .registry import DEFAULT_SAMPLER, Arrangement, Sampler, register_sampler


def as_paper(values: np.ndarray, seeds: list, checkpoints: list) -> Arrangement:
    """The paper's: S seeds, each with its last K checkpoints (averaged per seed before the test)."""
    return values, list(seeds), list(checkpoints)


def last_checkpoint(values: np.ndarray, seeds: list, checkpoints: list) -> Arrangement:
    """One sample per seed: its last checkpoint (a deep ensemble)."""
    return values[:, -1:], list(seeds), [checkpoints[-1]]


def first_seed_trajectory(values: np.ndarray, seeds: list, checkpoints: list) -> Arrangement:
    """One seed's kept checkpoints, each a sample of its own (the first seed: 446)."""
    return values[0][:, None], [f"{seeds[0]}@{c}" for c in checkpoints], ["single"]


register_sampler(Sampler(DEFAULT_SAMPLER, "the paper's: 10 seeds × their last 5 checkpoints (K averaged per seed)",
                         arrange=as_paper))
register_sampler(Sampler("seeds", "each seed's last checkpoint: 10 samples (a deep ensemble)", arrange=last_checkpoint))
register_sampler(Sampler("trajectory", "one seed's last 5 checkpoints as 5 samples (seed 446)",
                         arrange=first_seed_trajectory))

# the paper's six methods (LOO, ATS, IF, GD, GC, TracIn), the LOO truth and both controls: `make quick`
QUICK_METHODS = ("loo", "loo_corrected", "ats", "if", "gd", "gc", "tracin", "random", "same_class")
register_sampler(Sampler("quick", "a slice for a first look (make quick): the first 3 seeds × their last 2 checkpoints, "
                         "the paper's six methods, the LOO truth and both controls", arrange=as_paper, seeds=3,
                         checkpoints=2, methods=QUICK_METHODS))
