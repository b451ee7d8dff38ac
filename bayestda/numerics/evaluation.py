"""Outputs and per-item losses of one model or of many models on a fixed input set, without autograd."""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call, vmap

from ..core import channels_last
from ..core.losses import Loss, cross_entropy
from ..core.parallel import map_groups, thread_map
from ..core.params import Params


def logits_of(net: nn.Module, params: Params, x: torch.Tensor, chunk: int = 256) -> torch.Tensor:
    """[N, C] outputs of one model without autograd (chunks of ~256 keep activations in cache: docs/speed.md)."""
    with torch.no_grad():
        return torch.cat([functional_call(net, params, (x[i : i + chunk],)) for i in range(0, len(x), chunk)])


def per_sample_losses(net: nn.Module, params: Params, x: torch.Tensor, y: torch.Tensor, chunk: int = 256,
                      loss: Loss = cross_entropy) -> torch.Tensor:
    """[N] loss of each item under one model."""
    return loss(logits_of(net, params, x, chunk), y, reduction="none")


def losses_of_models(net: nn.Module, models: list[Params], x: torch.Tensor, y: torch.Tensor, stacked: bool = False,
                     model_chunk: int = 32, workers: int = 1, loss: Loss = cross_entropy) -> torch.Tensor:
    """[k, N] per-item losses of k models; a loop (over CPU threads) on CPU, vmap on GPUs.

    The paper's CNNs on CPU go through channels_last.ChannelsLastEvaluator (same losses to float rounding; docs/speed.md).
    """
    if not stacked and channels_last.applies(net, x.device):
        evaluator = channels_last.ChannelsLastEvaluator(net, x)
        return torch.stack(thread_map(lambda p: loss(evaluator.logits(p), y, reduction="none"), models, workers))
    if not stacked:
        rows = map_groups(lambda module, group: [per_sample_losses(module, p, x, y, loss=loss) for p in group], net, models,
                          workers)
        return torch.stack(rows)

    def one(p: Params) -> torch.Tensor:
        return loss(functional_call(net, p, (x,)), y, reduction="none")

    rows = []
    with torch.no_grad():
        for i in range(0, len(models), model_chunk):
            group = models[i : i + model_chunk]
            stack = {n: torch.stack([m[n] for m in group]) for n in group[0]}
            rows.append(vmap(one)(stack))
    return torch.cat(rows)
