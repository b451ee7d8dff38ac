"""Ground-truth methods by retraining: leave-one-out (LOO) and adding the sample (ATS).

LOO (paper, `loo`): from θ_t, a fresh Adam(lr=1e-3, wd=5e-3), torch.manual_seed(seed), then the full
number of epochs with `DataLoader(batch_size=32, shuffle=True)` batches, the removed item's loss set to 0
(the batch mean still divides by the full batch size).  τ = L(z; θ_{−j}) − L(z; θ_t).
Corrected (`loo_corrected`): the baseline is the full-data twin that continues from θ_t with the same
seed and batch order, τ = L(z; θ_{−j}) − L(z; θ_full); it removes the effect of the extra training.
One run of n + 1 models (one per removed item, plus the twin) gives both.

ViT, the paper's variant (`loo_pretrained`): the paper's ViT script retrained every LOO model from the
pretrained backbone with a new LoRA and the linear lr decay for the full number of epochs; here each run
starts from the same seeded fresh LoRA and classifier (the paper's was unseeded), τ = L(z; θ_{−j}) − L(z; θ_t).

ATS (`ats`): from θ_t, a fresh Adam, one step on the single train item z_j.  τ = L(z; θ_{+j}) − L(z; θ_t).
Signs: LOO positive = helpful; ATS negative = helpful (the paper's raw signs).

Items that are not train items (phantoms, `CheckpointContext.scored`): leaving one out trains on the whole training
set, so their `loo` rows are the full-data twin's L(z; θ_full) − L(z; θ_t), their `loo_corrected` rows exactly 0,
and their `loo_pretrained` rows one model re-fine-tuned on every train item; ATS steps on the item as on any other.
"""

from __future__ import annotations

import torch

from ..core.errors import BayesTDAError
from ..core.params import Params
from ..numerics.many_models import paper_batch_order, resolve_strategy, seeded, train_many
from .context import CheckpointContext
from .registry import Method, register


def loo_weights(n: int, dtype: torch.dtype) -> torch.Tensor:
    """[n + 1, n]: row j removes item j (weight 0); the last row keeps every item (the full-data twin)."""
    weights = torch.ones(n + 1, n, dtype=dtype)
    weights[torch.arange(n), torch.arange(n)] = 0
    return weights


def first_step_gradients(ctx: CheckpointContext, weights: torch.Tensor, positions: torch.Tensor) -> Params:
    """[k, *shape] gradients of mean_i(w_ki · loss_i) over the batch at θ_t, from the shared per-sample gradients.

    Every LOO model starts at θ_t on the same first batch, so its first gradient is a weighted sum of
    gradients computed once for all methods: one training step of k models saved (1/15 of the LOO training
    on mnist3). Valid for nets that train as they evaluate (no dropout or batch norm), e.g. the paper's CNNs.
    """
    grads = weights[:, positions].to(ctx.device, ctx.dtype) @ ctx.train_grads()[positions] / len(positions)
    return ctx.view.unflatten(grads)


def _retrained_test_losses(ctx: CheckpointContext, start: Params, weights: torch.Tensor, decay: bool = False,
                           progress=None, from_theta_t: bool = False) -> torch.Tensor:
    """[k, n_test] test losses of k models trained from `start` for the full epochs, model i on weights[i].

    Seeded with the run's seed: the paper's batch order, then (models with dropout) one shared dropout stream.
    decay=True adds the paper's ViT linear lr decay over all the steps. from_theta_t=True (start is θ_t, a net
    that trains as it evaluates): the first step is taken with first_step_gradients.
    """
    with seeded(ctx.seed, ctx.device):
        batches = paper_batch_order(len(ctx.train), ctx.epochs, ctx.batch_size)
        adam = ctx.adam.over(sum(len(b) for b in batches) if decay else None)
        first = first_step_gradients(ctx, weights, batches[0][0]) if from_theta_t else None
        finals = train_many(ctx.net, [start] * len(weights), ctx.train.x, ctx.train.y, batches, weights,
                            strategy=ctx.strategy, adam=adam, progress=progress, workers=ctx.workers,
                            model_chunk=ctx.model_chunk, channels_last=ctx.channels_last, first_step_grads=first,
                            loss=ctx.loss)
    return ctx.test_losses_of(finals, stacked=resolve_strategy(ctx.strategy, ctx.device) == "stacked")


def loo(ctx: CheckpointContext, progress=None) -> dict[str, torch.Tensor]:
    """{'loo', 'loo_corrected'}: [n_train, n_test] each, from one run of n + 1 models; 'full': [n_test], the
    full-data twin's test losses. Always the train items' (the run does not depend on the scored items)."""
    n = len(ctx.train)
    after = _retrained_test_losses(ctx, ctx.params, loo_weights(n, ctx.dtype), progress=progress,
                                   from_theta_t=ctx.trains_as_it_evaluates)
    return {"loo": after[:n] - ctx.test_losses()[None], "loo_corrected": after[:n] - after[n][None], "full": after[n]}


def _absent_rows(ctx: CheckpointContext, row: torch.Tensor) -> torch.Tensor:
    """[n_scored, n_test]: the same row for every scored item that is not a train item (leaving it out changes
    nothing, so every such item's retrained model is the one trained on the whole set)."""
    return row[None].expand(len(ctx.rows), -1).clone()


def loo_pretrained(ctx: CheckpointContext, progress=None) -> torch.Tensor:
    """[n_train, n_test]: the paper's ViT LOO, every model re-fine-tuned from the backbone without item j."""
    if ctx.fresh_start is None:
        raise BayesTDAError("loo_pretrained needs a model family with a pretrained start (the LoRA ViT); "
                            "this experiment's model retrains from its checkpoint: use loo or loo_corrected")
    n = len(ctx.train)
    start = {name: p.to(ctx.device, ctx.dtype) for name, p in ctx.fresh_start().items()}
    if ctx.scored is not None:
        full = _retrained_test_losses(ctx, start, torch.ones(1, n, dtype=ctx.dtype), decay=True)[0]
        return _absent_rows(ctx, full - ctx.test_losses())
    after = _retrained_test_losses(ctx, start, loo_weights(n, ctx.dtype)[:n], decay=True, progress=progress)
    return after - ctx.test_losses()[None]


def ats(ctx: CheckpointContext, model_chunk: int = 64) -> torch.Tensor:
    """[n_scored, n_test]: one fresh-Adam step per scored item, all items at once (stacked parameters)."""
    grads = ctx.view.unflatten(ctx.scored_grads())  # each item's gradient, computed once
    stacked = resolve_strategy(ctx.strategy, ctx.device) == "stacked"
    rows = []
    for start in range(0, len(ctx.rows), model_chunk):
        end = min(start + model_chunk, len(ctx.rows))
        models = {n: p.expand(end - start, *p.shape).clone().requires_grad_(True) for n, p in ctx.params.items()}
        for name, tensor in models.items():
            tensor.grad = grads[name][start:end].clone()
        ctx.adam.optimizer(models.values()).step()
        stepped = [{n: p[i].detach() for n, p in models.items()} for i in range(end - start)]
        rows.append(ctx.test_losses_of(stepped, stacked=stacked))
    return torch.cat(rows) - ctx.test_losses()[None]


def _loo_run(ctx: CheckpointContext) -> dict[str, torch.Tensor]:
    """Both LOO baselines from one run of n + 1 models, shared by `loo` and `loo_corrected` at this checkpoint."""
    return ctx.cached("loo_run", lambda: loo(ctx))


def loo_scores(ctx: CheckpointContext) -> torch.Tensor:
    """`loo` at this checkpoint: the train items' rows, or (other items) the twin's change from θ_t."""
    run = _loo_run(ctx)
    return run["loo"] if ctx.scored is None else _absent_rows(ctx, run["full"] - ctx.test_losses())


def loo_corrected_scores(ctx: CheckpointContext) -> torch.Tensor:
    """`loo_corrected` at this checkpoint: the train items' rows, or (other items) exactly 0."""
    run = _loo_run(ctx)
    return run["loo_corrected"] if ctx.scored is None else _absent_rows(ctx, torch.zeros_like(run["full"]))


register(Method("loo", loo_scores, +1, "leave-one-out retraining from the checkpoint, "
                "baseline the checkpoint (the paper's)", needs=("test_losses", "retraining"), script="loo", phantoms=True))
register(Method("loo_corrected", loo_corrected_scores, +1, "the same runs, baseline the "
                "full-data twin run", needs=("test_losses", "retraining"), script="loo", phantoms=True))
register(Method("ats", ats, -1, "one fresh-Adam step on the train item", needs=("gradients", "test_losses"),
                script="ats", phantoms=True))
register(Method("loo_pretrained", loo_pretrained, +1, "the paper's ViT LOO, re-fine-tuned from the backbone "
                "(on request)", needs=("test_losses", "retraining"), script="loo", script_flags=("--from-pretrained",),
                default=False, phantoms=True))
