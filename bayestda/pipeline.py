"""Per-seed TDA jobs: load each checkpoint once, compute the requested methods, write their files.

Finished files are skipped unless overwrite; every file is written atomically, so an interrupted job
loses at most the checkpoint it was working on.
"""

from __future__ import annotations

import logging

import torch
from tqdm import tqdm

from . import scores
from .attribution import (
    ALL_METHODS,
    CheckpointContext,
    InverseHVP,
    ats,
    converged,
    grad_cos,
    grad_dot,
    influence_scores,
    lissa,
    loo,
    loo_pretrained,
    tracin_term,
)
from .checkpoints import build_model, load_checkpoint
from .data import load_experiment_data
from .errors import BayesTDAError
from .experiment import Experiment
from .functional import detached_params
from .io import save_torch
from .parallel import in_background
from .training import seeded

log = logging.getLogger(__name__)

IF_METHODS = ("if", "if_converged")


def inverse_hvp_path(experiment: Experiment, method: str, seed: int, epoch: int):
    """Stored inverse-HVP vectors of `if` / `if_converged` (the paper's s_tests_ckpt_<e>.pt)."""
    return experiment.scores_dir(method, seed) / f"inverse_hvp_ckpt_{epoch}.pt"


def load_data(experiment: Experiment, net: torch.nn.Module):
    """(train, test) with the family's deterministic transform (the ViT's at the model's input size)."""
    if experiment.family == "vit":
        from .models.vit import image_size_of
        from .vit_data import load_vit_data

        return load_vit_data(experiment.task, experiment.num_per_class, image_size_of(net))
    return load_experiment_data(experiment.task, experiment.num_per_class)


def fresh_start(experiment: Experiment, seed: int):
    """Trainable weights of the seeded, untrained model (the paper's ViT LOO restarts from them)."""

    def make():
        with seeded(seed):
            return detached_params(build_model(experiment))

    return make


def make_context(experiment: Experiment, seed: int, epoch: int, strategy: str = "auto", device: str = "cpu",
                 dtype: torch.dtype = torch.float32, model_chunk: int | None = None) -> CheckpointContext:
    net, params = load_checkpoint(experiment, seed, epoch, device=device)
    train, test = load_data(experiment, net)
    to = lambda s: type(s)(s.x.to(device), s.y.to(device), s.idx)  # noqa: E731
    return CheckpointContext(net, params, to(train), to(test), seed, experiment.epochs, strategy=strategy, dtype=dtype,
                             model_chunk=model_chunk,
                             fresh_start=fresh_start(experiment, seed) if experiment.family == "vit" else None)


def inverse_hvps(ctx: CheckpointContext, methods) -> dict[str, InverseHVP]:
    """Inverse-HVP vectors for the requested IF variants."""
    out = {}
    if "if" in methods:
        out["if"] = lissa(ctx)
    if "if_converged" in methods:
        out["if_converged"] = converged(ctx)
    return out


def compute(ctx: CheckpointContext, methods, inverse: dict[str, InverseHVP] | None = None) -> dict[str, torch.Tensor]:
    """Score matrices of the requested methods at one checkpoint, sharing every gradient.

    On a multi-core CPU, the inverse-HVP vectors are computed on a thread of their own while LOO retrains its
    models on the others (the batched HVPs gain only 1.35x from a second intra-op thread here).
    """
    methods = set(methods)
    out: dict[str, torch.Tensor] = {}
    inverse = dict(inverse or {})
    pending = [m for m in IF_METHODS if m in methods and m not in inverse]
    background = None
    if pending and methods & {"loo", "loo_corrected"} and ctx.device.type == "cpu" and ctx.workers > 1:
        ctx.train_grads(), ctx.test_gradients()  # computed once here, shared with the forked context
        background = in_background(lambda fork=ctx.fork(): inverse_hvps(fork, pending))
    if methods & {"loo", "loo_corrected"}:
        out.update(loo(ctx))
    if "loo_pretrained" in methods:
        out["loo_pretrained"] = loo_pretrained(ctx)
    if "ats" in methods:
        out["ats"] = ats(ctx)
    if "gd" in methods:
        out["gd"] = grad_dot(ctx)
    if "gc" in methods:
        out["gc"] = grad_cos(ctx)
    if "tracin" in methods:
        out["tracin"] = tracin_term(ctx)
    inverse.update(background.result() if background is not None else inverse_hvps(ctx, pending))
    for method in IF_METHODS:
        if method in methods:
            out[method] = influence_scores(ctx, inverse[method])
            out[f"{method}:inverse"] = inverse[method]
    return out


def write_outputs(experiment: Experiment, seed: int, epoch: int, ctx: CheckpointContext, results: dict) -> None:
    for method in ALL_METHODS:
        if method in results:
            scores.write(experiment, method, seed, epoch, results[method], ctx.train.idx, ctx.test.idx)
    inverse = results.get("if_converged:inverse")
    if inverse is not None and inverse.residuals is not None:
        scores.write_residuals(experiment, seed, epoch, inverse.side, inverse.indices, inverse.residuals)


def check_methods(methods) -> list[str]:
    bad = [m for m in methods if m not in ALL_METHODS]
    if bad:
        raise BayesTDAError(f"unknown method {bad[0]!r}; allowed: {', '.join(ALL_METHODS)}")
    return list(methods)


def run_scores(experiment: Experiment, seed: int, methods, epochs=None, overwrite: bool = False,
               strategy: str = "auto", device: str = "cpu", use_stored_inverse: bool = False,
               keep_inverse: bool = True, show_progress: bool = True, model_chunk: int | None = None) -> None:
    """Compute and write the given methods for every selected checkpoint of one seed."""
    methods = check_methods(methods)
    epochs = experiment.check_checkpoint_epochs(epochs)
    bar = tqdm(epochs, desc=f"{experiment.name} seed {seed} [{','.join(methods)}]", unit="ckpt", disable=not show_progress)
    for epoch in bar:
        pending = [m for m in methods if overwrite or not scores.exists(experiment, m, seed, epoch)]
        if not pending:
            log.info("skip checkpoint %d: %s exist (use --overwrite to recompute)", epoch, ", ".join(methods))
            continue
        ctx = make_context(experiment, seed, epoch, strategy, device, model_chunk=model_chunk)
        inverse = load_inverse(experiment, seed, epoch, pending) if use_stored_inverse else None
        write_outputs(experiment, seed, epoch, ctx, compute(ctx, pending, inverse))
        if use_stored_inverse and not keep_inverse:
            for method in IF_METHODS:
                if method in pending:
                    inverse_hvp_path(experiment, method, seed, epoch).unlink(missing_ok=True)


def load_inverse(experiment: Experiment, seed: int, epoch: int, methods) -> dict[str, InverseHVP]:
    out = {}
    for method in IF_METHODS:
        if method not in methods:
            continue
        path = inverse_hvp_path(experiment, method, seed, epoch)
        if not path.exists():
            command = scores.score_command(experiment, method, seed).split(" then ")[0]
            raise BayesTDAError(f"missing inverse-HVP vectors {path}; run: {command}")
        out[method] = InverseHVP.from_blob(torch.load(path))
    return out


def run_inverse_hvps(experiment: Experiment, seed: int, methods=IF_METHODS, epochs=None, overwrite: bool = False,
                     device: str = "cpu") -> None:
    """The paper's first IF stage: compute and store the inverse-HVP vectors of every checkpoint."""
    epochs = experiment.check_checkpoint_epochs(epochs)
    for epoch in tqdm(epochs, desc=f"{experiment.name} seed {seed} [inverse HVP]", unit="ckpt"):
        pending = [m for m in methods if overwrite or not (
            inverse_hvp_path(experiment, m, seed, epoch).exists() or scores.exists(experiment, m, seed, epoch))]
        if not pending:
            log.info("skip checkpoint %d: inverse-HVP vectors or IF scores exist", epoch)
            continue
        ctx = make_context(experiment, seed, epoch, device=device)
        for method, inverse in inverse_hvps(ctx, pending).items():
            save_torch(inverse.to_blob(), inverse_hvp_path(experiment, method, seed, epoch))
