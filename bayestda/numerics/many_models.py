"""One trainer for the paper's CNN training, LOO and ATS: many models sharing one batch order.

Every model k starts from its own parameters with a fresh `Adam(lr=1e-3, weight_decay=5e-3)` and,
on each batch, minimises mean_i(w_ki * loss_i): w = 1 is the paper's training, w_kj = 0 removes item j
from model k (the paper's LOO sets that item's loss to 0 and still divides by the full batch size).
Two strategies give the same result: a plain loop over models (fastest on a 2-core CPU) and stacked
parameters trained together with torch.func.vmap (for GPUs). Only trainable parameters are trained and
returned (all of a CNN's; LoRA and classifier of the ViT).

Models with dropout (the ViT's LoRA dropout) draw the same masks in every model: each model replays the
random stream from the state at the start (common random numbers), so two models differ only by their
weights over the batch, never by dropout noise. The loop then runs the models one after the other.
"""

from __future__ import annotations

import copy
import logging
from contextlib import contextmanager
from dataclasses import dataclass, replace

import torch
from torch import nn
from torch.func import functional_call, vmap
from torch.utils.data import DataLoader

from ..core.channels_last import to_channels_last
from ..core.losses import Loss, cross_entropy
from ..core.parallel import thread_map
from ..core.params import Params

log = logging.getLogger(__name__)

STRATEGIES = ("auto", "loop", "stacked")


def linear_decay_factor(step: int, total: int) -> float:
    """The lr multiplier of optimiser step `step` (0-based) under a linear decay to 0 over `total` steps."""
    return max(0.0, (total - step) / total)


@dataclass(frozen=True)
class AdamSettings:
    """The paper's optimiser for CNNs (and LOO/ATS): Adam with L2 weight decay (not AdamW).

    fused=True runs torch's fused Adam kernel: the same update, equal to the default implementation up to
    float rounding (1e-6 of the LOO scores' scale), and 18% faster LOO here (less Python per step, so
    less GIL contention between the worker threads). Ensemble training keeps the default, which
    reproduces the paper's checkpoints bitwise.
    """

    lr: float = 1e-3
    weight_decay: float = 5e-3
    fused: bool = False
    decay_steps: int | None = None  # linear decay to 0 over this many steps, no warm-up (the paper's ViT schedule)

    def over(self, steps: int | None) -> AdamSettings:
        """These settings with a linear decay to 0 over `steps` optimiser steps; None: as they are."""
        return self if steps is None else replace(self, decay_steps=steps)

    def optimizer(self, params) -> torch.optim.Adam:
        return torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay, fused=self.fused or None)

    def scheduler(self, optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LambdaLR | None:
        """transformers' get_linear_schedule_with_warmup(num_warmup_steps=0), or None for a constant lr."""
        if self.decay_steps is None:
            return None
        total = max(1, self.decay_steps)
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: linear_decay_factor(step, total))


@contextmanager
def seeded(seed: int, device: torch.device | str = "cpu"):
    """torch.manual_seed(seed) inside, the caller's RNG state (CPU and the device's) restored after."""
    device = torch.device(device)
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def has_dropout(net: nn.Module) -> bool:
    """True when training the net draws random numbers (an active Dropout layer)."""
    return any(isinstance(m, nn.Dropout) and m.p > 0 for m in net.modules())


class RandomStreams:
    """One saved RNG state per model, all starting from the current state: every model sees the same stream."""

    def __init__(self, k: int, device: torch.device) -> None:
        self.cuda = device.type == "cuda"
        start = self._get()
        self.states = [start] * k

    def _get(self):
        return torch.cuda.get_rng_state(torch.cuda.current_device()) if self.cuda else torch.get_rng_state()

    def _set(self, state) -> None:
        if self.cuda:
            torch.cuda.set_rng_state(state, torch.cuda.current_device())
        else:
            torch.set_rng_state(state)

    def enter(self, k: int) -> None:
        self._set(self.states[k])

    def leave(self, k: int) -> None:
        self.states[k] = self._get()


BATCH_SIZE = 32


def paper_batch_order(n: int, epochs: int, batch_size: int = BATCH_SIZE) -> list[list[torch.Tensor]]:
    """Batches of item positions for each epoch, drawn from torch's global RNG exactly as the paper's
    `DataLoader(train, batch_size=32, shuffle=True)` draws them (the dataset's content plays no part)."""
    loader = DataLoader(list(range(n)), batch_size=batch_size, shuffle=True)
    return [list(loader) for _ in range(epochs)]


def resolve_strategy(strategy: str, device: torch.device | str) -> str:
    """'auto' picks the loop on CPU (faster there: docs/speed.md) and stacked models on a GPU."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; allowed: {', '.join(STRATEGIES)}")
    if strategy == "auto":
        return "stacked" if torch.device(device).type == "cuda" else "loop"
    return strategy


class LoopTrainer:
    """k independent modules, each with its own Adam; bitwise the paper's loop for k = 1.

    channels_last=True keeps conv weights and activations in NHWC layout: on this CPU a CNN training step
    is 20-25% faster (oneDNN's channels-last convolutions and max-pooling), equal to the NCHW step up to
    float rounding (not bitwise, so ensemble training keeps the default layout).
    """

    def __init__(self, net: nn.Module, starts: list[Params], adam: AdamSettings, channels_last: bool = False,
                 loss: Loss = cross_entropy) -> None:
        self.channels_last = channels_last
        self.loss = loss
        self.models = []
        self.optimizers = []
        self.schedulers = []
        for start in starts:
            model = copy.deepcopy(net)
            model.load_state_dict(start, strict=False)
            model.train()
            if channels_last:
                model.to(memory_format=torch.channels_last)
            self.models.append(model)
            optimizer = adam.optimizer([p for p in model.parameters() if p.requires_grad])
            self.optimizers.append(optimizer)
            self.schedulers.append(adam.scheduler(optimizer))
        device = next(iter(starts[0].values())).device
        self.streams = RandomStreams(len(starts), device) if has_dropout(net) else None

    def _step_model(self, k: int, x: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor:
        """One Adam step of model k on mean_i(w_i · loss_i) (plain mean when w is None, as the paper)."""
        model, opt = self.models[k], self.optimizers[k]
        if self.streams is not None:
            self.streams.enter(k)
        opt.zero_grad()
        if self.channels_last:
            x = to_channels_last(x)
        per_item = self.loss(model(x), y, reduction="none")
        loss = per_item.mean() if w is None else (per_item * w).mean()
        loss.backward()
        opt.step()
        if self.schedulers[k] is not None:
            self.schedulers[k].step()
        if self.streams is not None:
            self.streams.leave(k)
        return loss.detach()

    def step(self, x: torch.Tensor, y: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
        return torch.stack([self._step_model(k, x, y, None if weights is None else weights[k])
                            for k in range(len(self.models))])

    def _apply_model(self, k: int, grads: Params) -> None:
        """One optimiser step of model k with the given gradients instead of a forward and backward pass."""
        model, opt = self.models[k], self.optimizers[k]
        for name, p in model.named_parameters():
            if p.requires_grad:
                p.grad = torch.empty_like(p).copy_(grads[name][k])  # the parameter's memory format
        opt.step()
        if self.schedulers[k] is not None:
            self.schedulers[k].step()

    def apply_gradients(self, grads: Params) -> None:
        """One step of every model k with grads[name][k]."""
        for k in range(len(self.models)):
            self._apply_model(k, grads)

    def params(self) -> list[Params]:
        return [{n: p.detach().clone() for n, p in m.named_parameters() if p.requires_grad} for m in self.models]

    def run_independently(self, x: torch.Tensor, y: torch.Tensor, batches: list[list[torch.Tensor]],
                          weights: torch.Tensor | None, workers: int, first_grads: Params | None = None) -> None:
        """All epochs for each model on its own, models handed to CPU threads as they free up (no per-epoch
        callback); first_grads: a first step taken with given gradients before the batches."""

        def train_model(k: int) -> None:
            if first_grads is not None:
                self._apply_model(k, first_grads)
            for epoch_batches in batches:
                for positions in epoch_batches:
                    w = None if weights is None else weights[k, positions]
                    self._step_model(k, x[positions], y[positions], w)

        if self.streams is not None:
            workers = 1  # one global RNG: threads would interleave its draws
        thread_map(train_model, range(len(self.models)), workers)


class StackedTrainer:
    """k models as stacked parameters [k, ...] trained together with vmap and one elementwise Adam."""

    def __init__(self, net: nn.Module, starts: list[Params], adam: AdamSettings, loss: Loss = cross_entropy) -> None:
        self.net = copy.deepcopy(net).train()  # training mode (dropout) without touching the caller's net
        names = [n for n, p in net.named_parameters() if p.requires_grad]
        self.stacked = {n: torch.stack([s[n] for s in starts]).clone().requires_grad_(True) for n in names}
        self.optimizer = adam.optimizer(self.stacked.values())
        self.scheduler = adam.scheduler(self.optimizer)
        module = self.net

        def weighted(params: Params, x: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
            return (loss(functional_call(module, params, (x,)), y, reduction="none") * w).mean()

        # randomness="same": every stacked model draws the same dropout masks, as the loop's replayed streams
        self._losses = vmap(weighted, in_dims=(0, None, None, 0), randomness="same")

    def step(self, x: torch.Tensor, y: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
        k = next(iter(self.stacked.values())).shape[0]
        w = torch.ones(k, len(y), dtype=x.dtype, device=x.device) if weights is None else weights
        self.optimizer.zero_grad()
        losses = self._losses(self.stacked, x, y, w)
        losses.sum().backward()  # each model's slice gets the gradient of its own loss
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        return losses.detach()

    def apply_gradients(self, grads: Params) -> None:
        """One step of every model k with grads[name][k]."""
        for name, p in self.stacked.items():
            p.grad = grads[name].clone()
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()

    def params(self) -> list[Params]:
        k = next(iter(self.stacked.values())).shape[0]
        return [{n: p[i].detach().clone() for n, p in self.stacked.items()} for i in range(k)]


def make_trainer(net: nn.Module, starts: list[Params], strategy: str, adam: AdamSettings = AdamSettings(),
                 channels_last: bool = False, loss: Loss = cross_entropy):
    """The strategy's trainer; channels_last applies to the loop (the stacked trainer keeps NCHW)."""
    device = next(iter(starts[0].values())).device
    if resolve_strategy(strategy, device) == "stacked":
        return StackedTrainer(net, starts, adam, loss)
    return LoopTrainer(net, starts, adam, channels_last, loss)


def _train_in_chunks(net: nn.Module, starts: list[Params], x: torch.Tensor, y: torch.Tensor,
                     batches: list[list[torch.Tensor]], weights: torch.Tensor | None, strategy: str, adam: AdamSettings,
                     progress, workers: int, model_chunk: int, channels_last: bool, first_step_grads: Params | None,
                     loss: Loss) -> list[Params]:
    """train_many in groups of `model_chunk` models, every group from the same RNG state (chunking never changes
    the result)."""
    device = next(iter(starts[0].values())).device
    streams = RandomStreams(1, device)
    out: list[Params] = []
    for begin in range(0, len(starts), model_chunk):
        streams.enter(0)
        group_weights = None if weights is None else weights[begin : begin + model_chunk]
        group_grads = None if first_step_grads is None else {
            n: g[begin : begin + model_chunk] for n, g in first_step_grads.items()}
        out += train_many(net, starts[begin : begin + model_chunk], x, y, batches, group_weights, strategy, adam,
                          None, None, workers, None, channels_last, group_grads, loss)
        if progress is not None:
            progress.update(len(batches) * len(starts[begin : begin + model_chunk]) / len(starts))
    return out


def train_many(
    net: nn.Module,
    starts: list[Params],
    x: torch.Tensor,
    y: torch.Tensor,
    batches: list[list[torch.Tensor]],
    weights: torch.Tensor | None = None,
    strategy: str = "auto",
    adam: AdamSettings = AdamSettings(),
    on_epoch_end=None,
    progress=None,
    workers: int = 1,
    model_chunk: int | None = None,
    channels_last: bool = False,
    first_step_grads: Params | None = None,
    loss: Loss = cross_entropy,
) -> list[Params]:
    """Train k models from `starts` over the shared batch order; weights [k, n] per model and item.

    on_epoch_end(epoch, trainer, mean_losses[k]) is called after every epoch (checkpoints, metrics).
    Without it, the loop strategy trains the models independently over `workers` CPU threads, and
    model_chunk trains the models in groups of that many (bounds the stacked strategy's memory); every
    group starts from the same RNG state, so chunking never changes the result. channels_last: see LoopTrainer.
    first_step_grads ([k, *shape] per parameter): every model's gradient on the first batch, computed elsewhere
    (LOO: from the per-sample gradients at θ_t that every method shares); that step skips its forward and backward.
    """
    if first_step_grads is not None and on_epoch_end is not None:
        raise ValueError("first_step_grads cannot be combined with on_epoch_end (the first epoch's losses are not seen)")
    weights = None if weights is None else weights.to(x.device)
    if model_chunk is not None and len(starts) > model_chunk and on_epoch_end is None:
        return _train_in_chunks(net, starts, x, y, batches, weights, strategy, adam, progress, workers, model_chunk,
                                channels_last, first_step_grads, loss)
    trainer = make_trainer(net, starts, strategy, adam, channels_last, loss)
    if first_step_grads is not None:
        batches = [batches[0][1:], *batches[1:]]
    if isinstance(trainer, LoopTrainer) and on_epoch_end is None and workers > 1:
        trainer.run_independently(x, y, batches, weights, workers, first_step_grads)
        if progress is not None:
            progress.update(len(batches))
        return trainer.params()
    if first_step_grads is not None:
        trainer.apply_gradients(first_step_grads)
    for epoch, epoch_batches in enumerate(batches):
        running = torch.zeros(len(starts), dtype=torch.float64)
        for positions in epoch_batches:
            w = None if weights is None else weights[:, positions]
            running += trainer.step(x[positions], y[positions], w).double()
        if on_epoch_end is not None:
            on_epoch_end(epoch, trainer, running / len(epoch_batches))
        if progress is not None:
            progress.update(1)
    return trainer.params()
