"""Per-seed TDA jobs: load each checkpoint once, compute the requested methods, write their files.

Methods come from the registry (attribution.registry), the model from the experiment's model family: nothing
here is specific to a method or a family. Finished files are skipped unless overwrite; every file is
written atomically, so an interrupted job loses at most the checkpoint it was working on.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import torch
from tqdm import tqdm

from .. import provenance
from ..attribution import CheckpointContext, InverseHVP
from ..attribution.costs import Cost
from ..attribution.registry import Method, configured, in_registry_order, inverse_methods
from ..core.device import check_device
from ..core.errors import CorruptOutput, MissingOutput
from ..core.parallel import in_background
from ..core.tensor_io import save_torch
from ..experiments.commands import first_score_command
from ..experiments.experiment import Experiment
from ..families.base import epoch_learning_rate
from ..training.checkpoints import load_checkpoint
from . import files as scores

log = logging.getLogger(__name__)


def inverse_hvp_path(experiment: Experiment, method: str, seed: int, epoch: int):
    """Stored inverse-HVP vectors of a method with an inverse-HVP stage (the paper's s_tests_ckpt_<e>.pt)."""
    return experiment.scores_dir(method, seed) / f"inverse_hvp_ckpt_{epoch}.pt"


INVERSE_HVP_KIND = scores.declare_method_output("inverse_hvp", inverse_hvp_path)


def make_context(experiment: Experiment, seed: int, epoch: int, strategy: str = "auto", device: str = "cpu",
                 dtype: torch.dtype = torch.float32, model_chunk: int | None = None) -> CheckpointContext:
    family = experiment.family
    net, params = load_checkpoint(experiment, seed, epoch, device=device)
    train, test = family.load_data(experiment, net)
    steps_per_epoch = math.ceil(len(train) / family.recipe.batch_size)
    lr = epoch_learning_rate(family.recipe, epoch, experiment.epochs, steps_per_epoch)
    adam = replace(family.recipe.adam, fused=True, decay_steps=None)  # the recipe's optimiser (its decay: per method)
    return CheckpointContext(net, params, train.to(device), test.to(device), seed, experiment.epochs, adam=adam,
                             strategy=strategy, dtype=dtype,
                             model_chunk=model_chunk, fresh_start=family.fresh_start(experiment, seed), loss=family.loss,
                             measurement=family.measurement, lr=lr, epoch=epoch, batch_size=family.recipe.batch_size)


def inverse_hvps(ctx: CheckpointContext, methods: list[Method], costs: dict[str, Cost] | None = None) -> dict[str, InverseHVP]:
    """Inverse-HVP vectors of the given methods (those with an inverse-HVP stage); their costs added to `costs`."""
    out = {}
    for m in methods:
        out[m.name], cost = ctx.ledger.measure(lambda m=m: m.inverse_hvp(ctx))
        if costs is not None:
            costs[m.name] = costs.get(m.name, Cost()) + cost
    return out


def compute(ctx: CheckpointContext, methods, inverse: dict[str, InverseHVP] | None = None,
            seconds: dict[str, float] | None = None) -> dict[str, torch.Tensor]:
    """Score matrices of the requested methods at one checkpoint, sharing every gradient; `seconds` receives
    each method's wall time (its own work and every shared computation it used: see attribution.costs).

    On a multi-core CPU, the inverse-HVP vectors are computed on a thread of their own while the retraining
    methods train their models on the others (the batched HVPs gain only 1.35x from a second intra-op thread).
    """
    methods = in_registry_order(methods)
    out: dict[str, torch.Tensor] = {}
    costs: dict[str, Cost] = {}
    inverse = dict(inverse or {})
    pending = [m for m in methods if m.inverse_hvp is not None and m.name not in inverse]
    background = None
    retraining = any("retraining" in m.needs for m in methods)
    if pending and retraining and ctx.device.type == "cpu" and ctx.workers > 1:
        ctx.train_grads(), ctx.test_gradients()  # computed once here, shared with the forked context
        background_costs: dict[str, Cost] = {}
        background = in_background(lambda fork=ctx.fork(): inverse_hvps(fork, pending, background_costs))
    for method in methods:
        if method.inverse_hvp is None:
            out[method.name], costs[method.name] = ctx.ledger.measure(lambda m=method: m.score(ctx))
    if background is not None:
        inverse.update(background.result())
        costs.update(background_costs)
    else:
        inverse.update(inverse_hvps(ctx, pending, costs))
    for method in methods:
        if method.inverse_hvp is not None:
            out[method.name], cost = ctx.ledger.measure(lambda m=method: m.score(ctx, inverse[m.name]))
            costs[method.name] = costs.get(method.name, Cost()) + cost
            out[f"{method.name}:inverse"] = inverse[method.name]
    if seconds is not None:
        seconds.update({name: cost.seconds for name, cost in costs.items()})
    return out


def write_outputs(experiment: Experiment, seed: int, epoch: int, ctx: CheckpointContext, results: dict,
                  made_with: dict | None = None, seconds: dict[str, float] | None = None,
                  settings_of: dict[str, Method] | None = None) -> None:
    """Every score file (recorded with `made_with`, where measured its method's seconds, and the settings of the
    Method it ran as in `settings_of`) and residual file."""
    for name, value in results.items():
        if isinstance(value, InverseHVP):
            if value.residuals is not None:
                method = name.removesuffix(":inverse")
                scores.write_residuals(experiment, method, seed, epoch, value.side, value.indices, value.residuals,
                                       value.error_bounds)
        else:
            record = dict(made_with or {})
            if seconds is not None and name in seconds:
                record["seconds"] = round(seconds[name], 4)
            scores.write(experiment, name, seed, epoch, value, ctx.train.idx, ctx.test.idx, record, settings_of)


def run_scores(experiment: Experiment, seed: int, methods, epochs=None, overwrite: bool = False,
               strategy: str = "auto", device: str = "cpu", use_stored_inverse: bool = False,
               keep_inverse: bool = True, show_progress: bool = True, model_chunk: int | None = None,
               settings: dict[str, Any] | None = None,
               after_checkpoint: Callable[[CheckpointContext, int], None] | None = None, phantoms: bool = False) -> None:
    """Compute and write the given methods' score files for every selected checkpoint of one seed; files that are
    current (made from today's checkpoint with these settings) are skipped unless `overwrite`.

    Args:
        experiment: the experiment whose seed is scored.
        seed: the seed (e.g. 446), not its position.
        methods: registered method names (or Method objects).
        epochs: the checkpoints (default: the experiment's last five).
        overwrite: recompute current files too.
        strategy: the many-model trainer of the retraining methods: auto, loop or stacked.
        device: torch device (cpu, cuda, cuda:N).
        use_stored_inverse: score from the stored inverse-HVP vectors (the paper's two IF stages).
        keep_inverse: keep those vectors once their scores are current.
        show_progress: a tqdm bar over the checkpoints.
        model_chunk: train the LOO models in groups of this many (bounds GPU memory).
        settings: {method: settings object} for methods run with other than their default settings, e.g.
            {"trak": TrakSettings(dim=256)}; recorded with every file they write.
        after_checkpoint: called with each scored checkpoint's context and epoch once its files are written (another
            stage's work on the same checkpoint reuses what the context computed: the damping curve).
        phantoms: also score the experiment's phantom items (held-out images, as many as the train items) as if they
            were train items, on the same context (curvatures and retrained models reused): `phantom_ckpt_<e>.csv`.

    Returns:
        None: the score (and residual) files and their records are written under tda_scores/.
    """
    check_device(device)
    experiment = experiment if experiment.draws_samples else experiment.base  # a view's files are the paper's
    chosen = configured(methods, settings)
    names = [m.name for m in chosen]
    by_name = {m.name: m for m in chosen}
    epochs = experiment.check_checkpoint_epochs(epochs)
    with_phantoms = [m for m in chosen if m.phantoms and not m.whole_posterior] if phantoms else []
    bar = tqdm(epochs, desc=f"{experiment.name} seed {seed} [{','.join(names)}]", unit="ckpt", disable=not show_progress)
    for epoch in bar:
        why = {m.name: provenance.problem(experiment.scores_path(m.name, seed, epoch),
                                          scores.method_inputs(experiment, m, seed, epoch)) for m in chosen}
        pending = [m for m in chosen if overwrite or why[m.name] is not None]
        phantom_pending = [m for m in with_phantoms
                           if overwrite or scores.phantom_problem(experiment, m, seed, epoch) is not None]
        if not pending and not phantom_pending:
            log.info("skip checkpoint %d: %s are current (use --overwrite to recompute)", epoch, ", ".join(names))
            continue
        for m in pending:
            if why[m.name] is not None and not isinstance(why[m.name], MissingOutput) and not overwrite:
                log.info("recomputing %s at checkpoint %d: %s", m.name, epoch, why[m.name])
        ctx = make_context(experiment, seed, epoch, strategy, device, model_chunk=model_chunk)
        made_with = {"device": str(device), "strategy": strategy}
        if pending:
            inverse = load_inverse(experiment, seed, epoch, pending, device) if use_stored_inverse else None
            seconds: dict[str, float] = {}
            results = compute(ctx, pending, inverse, seconds)
            write_outputs(experiment, seed, epoch, ctx, results, made_with, seconds, by_name)
            if after_checkpoint is not None:
                after_checkpoint(ctx, epoch)
        if phantom_pending:
            score_phantoms(experiment, seed, epoch, ctx, phantom_pending, made_with)
        if use_stored_inverse and not keep_inverse:  # vectors are intermediates: gone once their scores are current
            for method in inverse_methods(chosen):
                if scores.is_done(experiment, method, seed, epoch):
                    path = inverse_hvp_path(experiment, method.name, seed, epoch)
                    path.unlink(missing_ok=True)
                    provenance.remove(path)


def score_phantoms(experiment: Experiment, seed: int, epoch: int, ctx: CheckpointContext, methods: list[Method],
                   made_with: dict) -> None:
    """Score the experiment's phantom items with each method as if they were train items, on this checkpoint's
    context (what depends only on the training set is reused), and write their files."""
    items = experiment.family.load_phantoms(experiment, ctx.net, ctx.train)
    results = compute(ctx.for_items(items.to(ctx.device)), methods)
    by_name = {m.name: m for m in methods}
    for name, value in results.items():
        if not isinstance(value, InverseHVP):
            scores.write(experiment, name, seed, epoch, value, items.idx, ctx.test.idx, made_with, by_name,
                         kind="phantom_scores")


def load_inverse(experiment: Experiment, seed: int, epoch: int, methods, device: str = "cpu") -> dict[str, InverseHVP]:
    """The stored inverse-HVP vectors, each checked: readable, and made from this very checkpoint."""
    out = {}
    for method in inverse_methods(methods):
        path = inverse_hvp_path(experiment, method.name, seed, epoch)
        first = first_score_command(experiment, method.name, seed)
        why = provenance.problem(path)
        if isinstance(why, MissingOutput):
            raise MissingOutput(f"missing inverse-HVP vectors {path}; run: {first}")
        if why is not None:
            raise type(why)(f"inverse-HVP vectors {path} are {why}; remake them: {first} --overwrite")
        try:
            out[method.name] = InverseHVP.from_blob(torch.load(path, map_location=device))
        except Exception as error:  # noqa: BLE001 (truncated or foreign file)
            raise CorruptOutput(f"inverse-HVP vectors {path} cannot be read ({type(error).__name__}); remake them: "
                                f"{first} --overwrite") from None
    return out


def run_inverse_hvps(experiment: Experiment, seed: int, methods, epochs=None, overwrite: bool = False,
                     device: str = "cpu") -> None:
    """The paper's first IF stage: compute and store the inverse-HVP vectors of every checkpoint."""
    methods = inverse_methods(methods)
    epochs = experiment.check_checkpoint_epochs(epochs)
    for epoch in tqdm(epochs, desc=f"{experiment.name} seed {seed} [inverse HVP]", unit="ckpt"):
        pending = [m for m in methods if overwrite or not (
            provenance.is_current(inverse_hvp_path(experiment, m.name, seed, epoch))
            or scores.is_done(experiment, m.name, seed, epoch))]
        if not pending:
            log.info("skip checkpoint %d: inverse-HVP vectors or scores exist", epoch)
            continue
        ctx = make_context(experiment, seed, epoch, device=device)
        for name, inverse in inverse_hvps(ctx, pending).items():
            path = inverse_hvp_path(experiment, name, seed, epoch)
            save_torch(inverse.to_blob(), path)
            scores.record_method(experiment, name, seed, epoch, path, kind="inverse_hvp", made_with={"device": device})
