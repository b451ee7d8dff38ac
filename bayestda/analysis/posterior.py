"""Scores as samples from the posterior: a [seeds, checkpoints, n_train, n_test] array per method."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from .. import scores
from ..errors import BayesTDAError
from ..experiment import Experiment, load_seeds


@dataclass
class PosteriorScores:
    """All score files of one experiment and method: values[seed, checkpoint, train, test]."""

    method: str
    values: np.ndarray
    seeds: list[int]
    epochs: list[int]
    train_idx: np.ndarray
    test_idx: np.ndarray

    def last_k_mean(self, k: int) -> np.ndarray:
        """[seeds, n_train, n_test]: each seed's scores averaged over its last k checkpoints."""
        return self.values[:, -k:].mean(axis=1)


def check_complete(experiment: Experiment, methods, seeds=None) -> None:
    """Raise one error naming every missing (method, seeds, checkpoints) and the command that makes it."""
    seeds = seeds or load_seeds()
    missing = scores.missing(experiment, methods, seeds, experiment.checkpoint_epochs)
    if not missing:
        return
    by_method: dict[str, set] = {}
    for method, seed, _ in missing:
        by_method.setdefault(method, set()).add(seed)
    parts = []
    for method, missing_seeds in by_method.items():
        epochs = sorted({e for m, _, e in missing if m == method})
        first = sorted(missing_seeds, key=seeds.index)[0]
        parts.append(f"{method} (seeds {', '.join(map(str, sorted(missing_seeds, key=seeds.index)))}; checkpoints "
                     f"{', '.join(map(str, epochs))}; e.g. {scores.score_command(experiment, method, first)})")
    raise BayesTDAError(f"missing scores for {experiment.name}: " + "; ".join(parts))


def load_posterior(experiment: Experiment, method: str, seeds=None) -> PosteriorScores:
    seeds = seeds or load_seeds()
    check_complete(experiment, [method], seeds)
    epochs = experiment.checkpoint_epochs
    first, train_idx, test_idx = scores.load_array(experiment, method, seeds[0], epochs[0])
    values = np.empty((len(seeds), len(epochs), *first.shape))
    for s, seed in enumerate(tqdm(seeds, desc=f"loading {method}", unit="seed", leave=False)):
        for c, epoch in enumerate(epochs):
            values[s, c] = scores.load_array(experiment, method, seed, epoch)[0]
    return PosteriorScores(method, values, list(seeds), epochs, train_idx, test_idx)
