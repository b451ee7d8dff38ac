"""The records of an experiment's analysis results: what they are made from (every score file read, by hash, and
the LDS subset models' files where used), declared as the output kind "results".

Apart from `results` (which runs the statistics) so that what only judges whether results are current, as the
launcher does, need not import the statistics stack.
"""

from __future__ import annotations

from . import provenance
from .experiment import Experiment
from .io import file_hash
from .lds import lds_path


def results_inputs(experiment: Experiment, methods, seeds, lds_subsets: int | None = None) -> dict:
    """The hash of every score file an analysis read (None where one is not current), and of the LDS subset
    models' files where it used them."""
    files = {}
    for method in methods:
        for seed in seeds:
            for epoch in experiment.checkpoint_epochs:
                path = experiment.scores_path(method, seed, epoch)
                files[f"{method}/{seed}/{epoch}"] = file_hash(path) if provenance.problem(path) is None else None
    if not lds_subsets:
        return {"scores": files}
    paths = {seed: lds_path(experiment, seed, lds_subsets) for seed in seeds}
    return {"scores": files, "lds": {str(s): file_hash(p) if provenance.problem(p) is None else None
                                     for s, p in paths.items()}}


provenance.declare(provenance.Kind("results", lambda w: results_inputs(
    Experiment.from_record(w), w["methods"], w["seeds"], w.get("lds_subsets"))))


def record_results(experiment: Experiment, methods, seeds, paths, lds_subsets: int | None = None) -> None:
    """Record analysis outputs as made from the current score files of these methods and seeds (and the LDS
    subset models' files, where used)."""
    what = experiment.record_what("results", methods=list(methods), seeds=list(seeds), lds_subsets=lds_subsets or None)
    inputs = results_inputs(experiment, methods, seeds, lds_subsets)
    for path in paths:
        provenance.write(path, what, inputs)


