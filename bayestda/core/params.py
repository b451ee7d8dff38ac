"""Flat parameter views: a model's trainable weights as a dict of tensors, and as one flat vector."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

Params = dict[str, torch.Tensor]


@dataclass
class FlatView:
    """Maps between a model's named parameters and one flat vector (in named_parameters order)."""

    names: list[str]
    shapes: list[torch.Size]

    @classmethod
    def of(cls, params: Params) -> FlatView:
        return cls(list(params), [p.shape for p in params.values()])

    @property
    def sizes(self) -> list[int]:
        return [s.numel() for s in self.shapes]

    @property
    def numel(self) -> int:
        return sum(self.sizes)

    def flatten(self, params: Params, batch_dims: int = 0) -> torch.Tensor:
        """[*batch, P] from a dict of [*batch, *shape] tensors."""
        return torch.cat([params[n].flatten(batch_dims) for n in self.names], dim=-1)

    def unflatten(self, flat: torch.Tensor) -> Params:
        """Dict of [*batch, *shape] tensors from [*batch, P]."""
        batch = flat.shape[:-1]
        chunks = torch.split(flat, self.sizes, dim=-1)
        return {n: c.reshape(*batch, *s) for n, c, s in zip(self.names, chunks, self.shapes)}


def detached_params(model: nn.Module, trainable_only: bool = True) -> Params:
    """The model's (trainable) parameters as a dict of detached tensors."""
    return {n: p.detach() for n, p in model.named_parameters() if p.requires_grad or not trainable_only}
