"""A drawing sampler's samples of one seed (swag, sgld, laplace): the seed trained if needed, its kept checkpoints
loaded, the sampler run, each sample written as a checkpoint in the paper's format with its record, then
metrics.json (each sample's test accuracy and loss, train loss, distance from the trained weights, seconds)."""

from __future__ import annotations

import json
import logging
import time

import torch

from .. import provenance
from ..core.device import check_device
from ..core.io import save_json
from ..core.tensor_io import save_torch
from ..experiments.experiment import Experiment
from ..numerics.evaluation import logits_of
from ..samplers import Sampler, SamplerInput
from .checkpoints import load_checkpoint, record_training
from .loops import train_seed
from .seed_run import seed_outputs

log = logging.getLogger(__name__)


def is_sampled(experiment: Experiment, seed: int, settings: dict) -> bool:
    """Every sample and metrics.json of the seed exists, is current, and was drawn with these settings."""
    outputs = seed_outputs(experiment, seed)
    return all(provenance.is_current(p) and (provenance.read(p) or {}).get("what", {}).get("sampler_settings") == settings
               for p in outputs)


def _measure(net, params, x, y, loss) -> tuple[float, float]:
    logits = logits_of(net, params, x)
    return 100.0 * (logits.argmax(1) == y).float().mean().item(), loss(logits, y).item()


def sample_seed(experiment: Experiment, seed: int, sampler: Sampler | None = None, overwrite: bool = False,
                device: str = "cpu", progress=None) -> dict:
    """Draw and write one seed's samples (skipped when current with the same settings); returns its metrics.

    Args:
        experiment: an experiment whose sampler draws (e.g. cnn_mnist3_10pc_swag).
        seed: the seed (e.g. 446).
        sampler: the sampler with the settings to use (default: the registered one's).
        overwrite: draw again even where the samples are current.
        device: torch device.
        progress: a tqdm bar the seed's training (where needed) advances.
    """
    check_device(device)
    sampler = sampler or experiment.posterior_sampler
    settings = sampler.settings_record() or {}
    if not overwrite and is_sampled(experiment, seed, settings):
        log.info("skip %s seed %d: samples exist (use --overwrite to draw again)", experiment.name, seed)
        return json.loads(experiment.metrics_path(seed).read_text())
    base = experiment.base
    train_seed(base, seed, device=device, progress=progress)  # skipped where the seed's checkpoints are current
    loaded = [load_checkpoint(base, seed, e, device=device) for e in base.checkpoint_epochs]
    net = loaded[-1][0]
    family = base.family
    train, test = family.load_data(base, net)
    train, test = train.to(device), test.to(device)
    given = SamplerInput(net, [p for _, p in loaded], train.x, train.y, family.recipe.adam.weight_decay, seed, family.loss)
    start = time.perf_counter()
    draws = sampler.draw(given, sampler.settings)
    seconds = time.perf_counter() - start
    final = given.final
    metrics: dict = {"experiment": experiment.name, "sampler": sampler.name, "settings": settings, "seed": seed,
                     "sampling_seconds": seconds, "train_loss": [], "checkpoints": {}}
    for j, params in enumerate(draws):
        state = {n: t.detach().clone() for n, t in net.state_dict().items()}
        state.update({n: p.detach().clone() for n, p in params.items()})
        train_accuracy, train_loss = _measure(net, params, train.x, train.y, family.loss)
        blob = {"epoch": j, "model_state_dict": state, "optimizer_state_dict": {}, "loss": train_loss,
                "sampler": sampler.name, "sample": j}
        path = experiment.checkpoint_path(seed, j)
        save_torch(blob, path)
        record_training(experiment, seed, path, "checkpoint", j, settings)
        accuracy, loss = _measure(net, params, test.x, test.y, family.measurement)
        distance = torch.sqrt(sum(((params[n] - final[n]).double() ** 2).sum() for n in final)).item()
        metrics["train_loss"].append(train_loss)
        metrics["checkpoints"][str(j)] = {"test_accuracy": accuracy, "test_loss": loss, "train_accuracy": train_accuracy,
                                          "distance_from_trained": distance}
    save_json(metrics, experiment.metrics_path(seed))
    record_training(experiment, seed, experiment.metrics_path(seed), "metrics", sampler_settings=settings)
    accuracies = [c["test_accuracy"] for c in metrics["checkpoints"].values()]
    log.info("%s seed %d: %d samples in %.1f s, test accuracy %.1f-%.1f%%", experiment.name, seed, len(draws), seconds,
             min(accuracies), max(accuracies))
    return metrics


def make_posterior(experiment: Experiment, seed: int, sampler: Sampler | None = None, overwrite: bool = False,
                   device: str = "cpu", progress=None) -> dict:
    """A seed's posterior samples, whatever the sampler: the paper's training (its views too), or drawn samples."""
    if experiment.draws_samples:
        return sample_seed(experiment, seed, sampler, overwrite, device, progress)
    return train_seed(experiment.base, seed, overwrite=overwrite, device=device, progress=progress)
