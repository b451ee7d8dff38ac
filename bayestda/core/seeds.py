"""The paper's 10 seeds (random_seeds.pt) and the positions (`--seed_id k`) that name them."""

from __future__ import annotations

from functools import cache

import torch

from .errors import BadInput
from .paths import SEEDS_FILE

PAPER_SEEDS = (446, 724, 571, 296, 854, 968, 245, 374, 829, 470)


@cache
def _seeds_file() -> tuple[int, ...]:
    return tuple(int(s) for s in torch.load(SEEDS_FILE))


def load_seeds() -> list[int]:
    """The paper's 10 seeds, in order, from random_seeds.pt (read once per process)."""
    return list(_seeds_file())


def check_seed_id(seed_id: int) -> int:
    """The seed for --seed_id k (0-based), or a one-line error."""
    seeds = load_seeds()
    if not 0 <= seed_id < len(seeds):
        raise BadInput(f"--seed_id {seed_id} is out of range; allowed: 0..{len(seeds) - 1}")
    return seeds[seed_id]


def seed_id_of(seed: int) -> int:
    """The --seed_id that names a seed (the seed itself where it is not one of the 10)."""
    seeds = load_seeds()
    return seeds.index(seed) if seed in seeds else seed
