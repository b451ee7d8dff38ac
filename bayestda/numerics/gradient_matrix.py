"""Per-sample gradients as a matrix [N, P] that keeps rank-one blocks factored.

A Linear layer fed one vector per item (the CNNs' fc1 and fc2) gives item i the weight gradient δ_i a_iᵀ.
Stored as δ [N, out] and a [N, in], fc1's block of 900 test gradients takes 2 MB instead of 740 MB, and
every product the methods need is computed from the factors without forming it:
    ⟨δ_i a_iᵀ, δ_j a_jᵀ⟩ = (δ_i·δ_j)(a_i·a_j),   ⟨M, δ_i a_iᵀ⟩ = δ_iᵀ M a_i.
Grad-Dot, Grad-Cos and the IF scores then never read (or write) the dense block: on the CPU that memory
traffic was a third of the per-checkpoint cost of the gradient methods. `rows()` gives the dense matrix
when one is needed (LiSSA or the converged solver on the test side).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..core.params import FlatView


@dataclass
class GradientMatrix:
    """[N, P] per-sample gradients: dense columns for most parameters, (δ, a) factors for rank-one weights."""

    view: FlatView  # the full parameter layout (names, shapes, order)
    dense: torch.Tensor  # [N, sum of the dense parameters' sizes], in view order
    factors: dict[str, tuple[torch.Tensor, torch.Tensor]]  # name -> (δ [N, out], a [N, in])

    def __len__(self) -> int:
        return len(self.dense)

    @property
    def dense_names(self) -> list[str]:
        return [n for n in self.view.names if n not in self.factors]

    def _dense_columns(self, flat: torch.Tensor) -> torch.Tensor:
        """The dense parameters' columns of a [k, P] matrix in the full layout."""
        if not self.factors:
            return flat
        blocks = self.view.unflatten(flat)
        return torch.cat([blocks[n].flatten(1) for n in self.dense_names], dim=1)

    def rows(self) -> torch.Tensor:
        """The dense [N, P] matrix (forms every rank-one block)."""
        if not self.factors:
            return self.dense
        out = self.dense.new_empty(len(self), self.view.numel)
        start, dense_start = 0, 0
        for name, shape, size in zip(self.view.names, self.view.shapes, self.view.sizes):
            if name in self.factors:
                delta, a = self.factors[name]
                torch.mul(delta[:, :, None], a[:, None, :], out=out[:, start : start + size].view(len(self), *shape))
            else:
                out[:, start : start + size] = self.dense[:, dense_start : dense_start + size]
                dense_start += size
            start += size
        return out

    def products(self, other: torch.Tensor) -> torch.Tensor:
        """[k, N] = other @ rows().T for a dense [k, P] matrix in the full layout."""
        out = self._dense_columns(other) @ self.dense.T
        blocks = self.view.unflatten(other) if self.factors else {}
        for name, (delta, a) in self.factors.items():
            m = blocks[name]  # [k, out, in]
            projected = (m.reshape(-1, m.shape[-1]) @ a.T).view(len(m), m.shape[1], len(self))  # M a_i
            out += torch.einsum("kon,no->kn", projected, delta)
        return out

    def dense_products(self, other: torch.Tensor) -> torch.Tensor:
        """[k, N] products of a [k, P] matrix with the dense parameters' columns only (the rank-one blocks left out:
        a caller that scores those from their factors itself)."""
        return self._dense_columns(other) @ self.dense.T

    def gram(self, other: GradientMatrix) -> torch.Tensor:
        """[len(other), N] = other.rows() @ rows().T, rank-one blocks by (δ·δ')(a·a')."""
        if set(other.factors) != set(self.factors):
            return self.products(other.rows())
        out = other.dense @ self.dense.T
        for name, (delta, a) in self.factors.items():
            other_delta, other_a = other.factors[name]
            out += (other_delta @ delta.T) * (other_a @ a.T)
        return out

    def norms(self) -> torch.Tensor:
        """[N] Euclidean norms of the rows."""
        squared = self.dense.pow(2).sum(1)
        for delta, a in self.factors.values():
            squared += delta.pow(2).sum(1) * a.pow(2).sum(1)
        return squared.sqrt()
