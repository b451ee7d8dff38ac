"""Controls: scores that know nothing of the items (`random`) or only their labels (`same_class`), computed and
analysed like every method, so that each metric has its floor beside it.

`random` draws standard-normal scores from a generator seeded by (seed, checkpoint): reproducible, and a fresh
draw for every posterior sample, so it is pure posterior noise. `same_class` is 1 where the train and test
labels match and 0 elsewhere: the same at every seed and checkpoint, it is what a method scores from the labels
alone (random halves of 3 classes x 10 items differ in class make-up, and LDS's target partly tracks that).
"""

from __future__ import annotations

import torch

from ..core.errors import BadInput
from .context import CheckpointContext
from .registry import Method, register

RANDOM_SEED_STRIDE = 1_000  # generator seed = seed x stride + epoch: distinct for every (seed, checkpoint)
SCORED_ITEMS_OFFSET = 500  # phantom items' scores: another stream (seed x stride + 500 + epoch; epochs < 500)


def random_scores(ctx: CheckpointContext) -> torch.Tensor:
    """[n_train, n_test] standard-normal scores, seeded by the context's seed and checkpoint."""
    if ctx.epoch is None:
        raise BadInput("the random control needs the checkpoint's epoch; build the context with make_context")
    offset = 0 if ctx.scored is None else SCORED_ITEMS_OFFSET
    generator = torch.Generator().manual_seed(ctx.seed * RANDOM_SEED_STRIDE + offset + ctx.epoch)
    values = torch.randn(len(ctx.rows), len(ctx.test), generator=generator, dtype=torch.float64)
    return values.to(ctx.dtype).to(ctx.device)


def same_class_scores(ctx: CheckpointContext) -> torch.Tensor:
    """[n_train, n_test]: 1 where the train item's label equals the test item's, else 0."""
    same = ctx.rows.y.to(ctx.device)[:, None] == ctx.test.y.to(ctx.device)[None, :]
    return same.to(ctx.dtype)


register(Method("random", random_scores, +1, "control: seeded standard-normal scores (pure posterior noise)", needs=(),
                default=False, phantoms=True))
register(Method("same_class", same_class_scores, +1, "control: 1 where train and test labels match (labels only)",
                needs=(), default=False, phantoms=True))
