"""The loss of a model's outputs, written once: the paper's cross-entropy, and the interface a task's own loss follows.

Every piece that trains, differentiates or evaluates a model (trainers, per-sample gradients, HVPs, the
Gauss-Newton solve, test losses) takes a `Loss`, so a model family with another loss changes one object.
"""

from __future__ import annotations

import torch
from torch.func import hessian
from torch.nn import functional as F


class Loss:
    """A per-item loss of model outputs: `loss(outputs, y, reduction)` with reduction 'none', 'mean' or 'sum'."""

    name = "loss"

    def __call__(self, outputs: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        raise NotImplementedError

    def hessian_root(self, output: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """[C, C] L with L Lᵀ = ∂²loss/∂output² for one item (the Gauss-Newton factor); generic: by eigendecomposition."""
        curvature = hessian(lambda o: self(o[None], y[None], "sum"))(output)
        values, vectors = torch.linalg.eigh(curvature)
        return vectors * values.clamp_min(0).sqrt()


class CrossEntropy(Loss):
    """The paper's loss: softmax cross-entropy of logits against class labels."""

    name = "cross_entropy"

    def __call__(self, outputs: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        return F.cross_entropy(outputs, y, reduction=reduction)

    def hessian_root(self, output: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """L = diag(√p) − p √pᵀ: L Lᵀ = diag(p) − p pᵀ, the Hessian of cross-entropy in the logits."""
        prob = torch.softmax(output, dim=0)
        root = prob.sqrt()
        return torch.diag(root) - prob[:, None] * root[None, :]


cross_entropy = CrossEntropy()
