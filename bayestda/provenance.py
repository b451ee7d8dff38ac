"""What every output was made from: a small JSON record beside each file (`<file>.prov.json`).

A record names the output (`what`: its kind, experiment, seed, checkpoint, method), the inputs it was made
from (`inputs`: the data subsets' content hashes, the checkpoint's hash, the recipe and method settings that
change numbers, the code versions) and the file's own hash. An output is *current* when its file and record
exist, the file still has the recorded hash, and its inputs, recomputed from what is on disk now, equal the
recorded ones (the way make, Snakemake or DVC decide "done" from inputs, not from a file's existence).
Retraining a seed changes its checkpoints' hashes, so every score made from the old ones stops being current:
the per-seed scripts and run_all.py recompute them and the analysis refuses them.

Files written by bayestda 0.1 have no record: they count as not done (the scripts recompute them, with the
same numbers) and the analysis refuses them, unless `python -m bayestda.provenance adopt --experiment E`
records them as made from what is on disk now.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict
from pathlib import Path

import torch

from .errors import BayesTDAError

log = logging.getLogger(__name__)

TRAINING_VERSION = "1"  # bump when training changes numbers
SUFFIX = ".prov.json"
UNRECORDED = "unrecorded (no provenance record: written by bayestda 0.1, or cut short before its record)"
_hashes: dict[tuple[str, int, int], str] = {}


def record_path(path: Path) -> Path:
    return Path(path).with_name(Path(path).name + SUFFIX)


def file_hash(path: Path) -> str:
    """sha256 of a file's bytes (cached per path, size and modification time)."""
    stat = Path(path).stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _hashes:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        _hashes[key] = digest.hexdigest()
    return _hashes[key]


def tensor_hash(*tensors: torch.Tensor) -> str:
    """sha256 of tensors' values, shapes and dtypes (independent of how the file holding them was written)."""
    digest = hashlib.sha256()
    for t in tensors:
        t = t.detach().cpu().contiguous()
        digest.update(f"{t.dtype}{tuple(t.shape)}".encode())
        digest.update(t.numpy().tobytes())
    return digest.hexdigest()


def read(path: Path) -> dict | None:
    path = record_path(path)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write(path: Path, what: dict, inputs: dict, made_with: dict | None = None) -> None:
    """Record an output just written (after the file itself: a crash between leaves it unrecorded, so not done)."""
    from .io import save_json

    save_json({"what": what, "inputs": inputs, "made_with": made_with or {}, "sha256": file_hash(path)},
              record_path(path))


# --- the inputs of each kind of output, from what is on disk now ------------------------------------------
def _experiment(what: dict):
    from .experiment import Experiment

    return Experiment.parse(what["experiment"], vit_weights=what.get("vit_weights"))


_data: dict[tuple, dict] = {}


def data_hashes(experiment) -> dict:
    """Content hashes of the experiment's train and test subsets (cached per subset file version)."""
    from .data import load_subset, subset_path

    files = [subset_path(experiment.task, "train", experiment.num_per_class), subset_path(experiment.task, "test")]
    key = tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) if f.exists() else (str(f),) for f in files)
    if key not in _data:
        train = load_subset(experiment.task, "train", experiment.num_per_class)
        test = load_subset(experiment.task, "test")
        _data[key] = {"train": tensor_hash(train.x, train.y, train.idx), "test": tensor_hash(test.x, test.y, test.idx)}
    return _data[key]


def training_inputs(experiment, seed: int) -> dict:
    """What a seed's checkpoints are made from: the data, the model task and its recipe, the seed."""
    task = experiment.model_task
    recipe = asdict(task.recipe)
    recipe["epochs"] = experiment.epochs
    inputs = {"data": data_hashes(experiment), "model": experiment.model, "backbone": experiment.backbone,
              "loss": task.loss.name, "recipe": recipe, "seed": seed, "training_version": TRAINING_VERSION}
    fingerprint = task.backbone_fingerprint(experiment)
    if fingerprint is not None:  # only local weights have one: other records stay as they were
        inputs["backbone_sha256"] = fingerprint
    return inputs


def method_inputs(experiment, method: str, seed: int, epoch: int) -> dict:
    """What a method's file at one checkpoint is made from: that checkpoint (by hash) and the method's settings."""
    from .attribution.registry import get

    checkpoint = experiment.checkpoint_path(seed, epoch)
    m = get(method)
    return {"checkpoint": file_hash(checkpoint) if checkpoint.exists() else None, "method": method,
            "method_version": m.version, "settings": m.settings}


def results_inputs(experiment, methods, seeds, lds_subsets: int | None = None) -> dict:
    """What an analysis is made from: the hash of every score file it read (None where one is not current), and
    of the LDS subset models' files where it used them."""
    files = {}
    for method in methods:
        for seed in seeds:
            for epoch in experiment.checkpoint_epochs:
                path = experiment.scores_path(method, seed, epoch)
                files[f"{method}/{seed}/{epoch}"] = file_hash(path) if problem(path) is None else None
    if not lds_subsets:
        return {"scores": files}
    from .lds import lds_path

    paths = {seed: lds_path(experiment, seed, lds_subsets) for seed in seeds}
    return {"scores": files, "lds": {str(s): file_hash(p) if problem(p) is None else None for s, p in paths.items()}}


def path_of(what: dict) -> Path | None:
    """The file a record describes (None for analysis results, which are many files of one folder)."""
    from .pipeline import inverse_hvp_path
    from .scores import residuals_path

    experiment = _experiment(what)
    kind = what["kind"]
    if kind == "checkpoint":
        return experiment.checkpoint_path(what["seed"], what["epoch"])
    if kind == "metrics":
        return experiment.metrics_path(what["seed"])
    if kind == "scores":
        return experiment.scores_path(what["method"], what["seed"], what["epoch"])
    if kind == "residuals":
        return residuals_path(experiment, what["method"], what["seed"], what["epoch"])
    if kind == "inverse_hvp":
        return inverse_hvp_path(experiment, what["method"], what["seed"], what["epoch"])
    if kind == "lds":
        from .lds import lds_path

        return lds_path(experiment, what["seed"], what["subsets"])
    return None


def expected_inputs(what: dict) -> dict:
    experiment = _experiment(what)
    if what["kind"] in ("checkpoint", "metrics"):
        return training_inputs(experiment, what["seed"])
    if what["kind"] == "results":
        return results_inputs(experiment, what["methods"], what["seeds"], what.get("lds_subsets"))
    if what["kind"] == "lds":
        from .lds import lds_inputs

        return lds_inputs(experiment, what["seed"], what["subsets"])
    return method_inputs(experiment, what["method"], what["seed"], what["epoch"])


def problem(path: Path) -> str | None:
    """Why an output is not current ('missing', 'unrecorded', 'changed since written', 'stale: ...'), or None."""
    path = Path(path)
    if not path.exists():
        return "missing"
    record = read(path)
    if record is None:
        return UNRECORDED
    if record.get("sha256") != file_hash(path):
        return "changed since it was written (its hash differs from the recorded one)"
    try:
        own = path_of(record["what"])
    except (BayesTDAError, KeyError) as error:
        return f"recorded for something else ({error})"
    if own is not None and own.resolve() != path.resolve():
        return f"made for {own} (copied or moved here)"
    try:
        expected = expected_inputs(record["what"])
    except BayesTDAError as error:
        return f"its inputs cannot be read ({error})"
    if expected != record["inputs"]:
        changed = sorted(k for k in set(expected) | set(record["inputs"]) if expected.get(k) != record["inputs"].get(k))
        return f"stale: made from other {', '.join(changed)} than what is on disk now"
    if record["what"]["kind"] in ("scores", "residuals", "inverse_hvp"):  # its checkpoint must be current too
        experiment = _experiment(record["what"])
        upstream = problem(experiment.checkpoint_path(record["what"]["seed"], record["what"]["epoch"]))
        if upstream not in (None, UNRECORDED):
            return f"stale: its checkpoint is {upstream}"
    return None


def is_current(path: Path) -> bool:
    return problem(path) is None


# --- recording ------------------------------------------------------------------------------------------
def record_results(experiment, methods, seeds, paths, lds_subsets: int | None = None) -> None:
    """Record analysis outputs as made from the current score files of these methods and seeds (and the LDS
    subset models' files, where used)."""
    what = {"kind": "results", "experiment": experiment.name, "methods": list(methods), "seeds": list(seeds)}
    if experiment.vit_weights is not None:
        what["vit_weights"] = experiment.vit_weights
    if lds_subsets:
        what["lds_subsets"] = lds_subsets
    inputs = results_inputs(experiment, methods, seeds, lds_subsets)
    for path in paths:
        write(path, what, inputs)


def _what(kind: str, experiment, seed: int, epoch: int | None = None, method: str | None = None) -> dict:
    what = {"kind": kind, "experiment": experiment.name, "seed": seed}
    if experiment.vit_weights is not None:
        what["vit_weights"] = experiment.vit_weights
    if epoch is not None:
        what["epoch"] = epoch
    if method is not None:
        what["method"] = method
    return what


def record_training(experiment, seed: int, path: Path, kind: str, epoch: int | None = None) -> None:
    write(path, _what(kind, experiment, seed, epoch), training_inputs(experiment, seed))


def record_method(experiment, method: str, seed: int, epoch: int, path: Path, kind: str = "scores",
                  made_with: dict | None = None) -> None:
    write(path, _what(kind, experiment, seed, epoch, method), method_inputs(experiment, method, seed, epoch), made_with)


# --- adopting the outputs of bayestda 0.1 -------------------------------------------------------------------
def adopt(experiment, methods, seeds) -> int:
    """Record every unrecorded checkpoint, metrics file and score file of an experiment as made from what is on
    disk now (the user vouches for them); returns how many records were written."""
    written = 0
    for seed in seeds:
        for epoch in experiment.checkpoint_epochs:
            path = experiment.checkpoint_path(seed, epoch)
            if path.exists() and read(path) is None:
                record_training(experiment, seed, path, "checkpoint", epoch)
                written += 1
        if experiment.metrics_path(seed).exists() and read(experiment.metrics_path(seed)) is None:
            record_training(experiment, seed, experiment.metrics_path(seed), "metrics")
            written += 1
        for method in methods:
            for epoch in experiment.checkpoint_epochs:
                path = experiment.scores_path(method, seed, epoch)
                if path.exists() and read(path) is None:
                    record_method(experiment, method, seed, epoch, path, made_with={"adopted": True})
                    written += 1
    return written


def main(argv: list[str] | None = None) -> int:
    from .attribution import default_methods
    from .experiment import Experiment, load_seeds
    from .flags import Parser, experiment_name, method_list

    parser = Parser(prog="python -m bayestda.provenance", description=adopt.__doc__)
    parser.add_argument("command", choices=["adopt"])
    parser.add_argument("--experiment", type=experiment_name, required=True, help="e.g. cnn_mnist3_10pc")
    parser.add_argument("--methods", type=method_list, default=None,
                        help="comma-separated methods (default: every default method)")
    args = parser.parse_args(argv)
    experiment = Experiment.parse(args.experiment)
    methods = args.methods or default_methods()
    print(f"recorded {adopt(experiment, methods, load_seeds())} unrecorded outputs of {experiment.name}")
    return 0


if __name__ == "__main__":
    from .cli import run

    run(main)
