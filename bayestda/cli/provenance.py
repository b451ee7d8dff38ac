"""`python -m bayestda.provenance show FILE` prints a file's record and whether it is current;
`python -m bayestda.provenance adopt --experiment E` records the outputs of bayestda 0.1 as made from what is on
disk now (the user vouches for them)."""

from __future__ import annotations

import json
from pathlib import Path

from ..attribution import default_methods
from ..core.errors import MissingOutput
from ..core.seeds import load_seeds
from ..experiments.experiment import Experiment
from ..launch.stages import KINDS
from ..provenance import problem, read, record_path
from ..scores.files import record_method
from ..training.checkpoints import record_training
from .flags import Parser, experiment_name, method_list
from .scripts import run


def adopt(experiment: Experiment, methods, seeds) -> int:
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


def show(path: Path) -> str:
    """A file's record (pretty JSON), where it is kept, and whether the file is current."""
    record = read(path)
    if record is None:
        if not path.exists():
            raise MissingOutput(f"{path} does not exist")
        return f"{path}: no record (written by bayestda 0.1, or cut short before its record)"
    kind = record.get("what", {}).get("kind")
    if kind not in KINDS:
        return f"{path}: its record names kind {kind!r}, which bayestda does not make (kinds: {', '.join(KINDS)})"
    why = problem(path)
    where = record_path(path) if record_path(path).exists() else f"{path.name}.prov.json (the 0.2 layout)"
    state = "current" if why is None else f"not current: {why}"
    return f"{path}: {state}\nrecord: {where}\n{json.dumps(record, indent=2)}"


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m bayestda.provenance", description=__doc__)
    parser.add_argument("command", choices=["adopt", "show"])
    parser.add_argument("file", nargs="?", type=Path, help="show: the output file whose record to print")
    parser.add_argument("--experiment", type=experiment_name, help="adopt: e.g. cnn_mnist3_10pc")
    parser.add_argument("--methods", type=method_list, default=None,
                        help="adopt: comma-separated methods (default: every default method)")
    args = parser.parse_args(argv)
    if args.command == "show":
        if args.file is None:
            parser.error("show needs a FILE, e.g. python -m bayestda.provenance show results/cnn_mnist3_10pc/summary.md")
        print(show(args.file))
        return 0
    if args.experiment is None:
        parser.error("adopt needs --experiment E, e.g. --experiment cnn_mnist3_10pc")
    experiment = Experiment.parse(args.experiment)
    methods = args.methods or default_methods()
    print(f"recorded {adopt(experiment, methods, load_seeds())} unrecorded outputs of {experiment.name}")
    return 0


if __name__ == "__main__":
    run(main)
