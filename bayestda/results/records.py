"""The records of an experiment's analysis results: what they are made from (every score file read, by hash, and
the LDS subset models' files where used), declared as the output kind "results".

Apart from `results` (which runs the statistics) so that what only judges whether results are current, as the
launcher does, need not import the statistics stack.
"""

from __future__ import annotations

from .. import provenance
from ..attribution.registry import phantom_methods, whole_posterior_methods
from ..core.io import file_hash
from ..experiments.experiment import Experiment
from ..scores.files import phantom_path
from ..training.lds import LdsDesign


def lds_designs_of(what: dict) -> list[LdsDesign]:
    """The LDS designs a results record says the analysis used (0.2's records: lds_subsets, the paired target)."""
    if not what.get("lds_subsets"):
        return []
    return [LdsDesign(what["lds_subsets"], what.get("lds_target", "paired"), halves, what.get("lds_models", 10))
            for halves in what.get("lds_halves", ["random"])]


def results_inputs(experiment: Experiment, methods, seeds, designs: list[LdsDesign] = ()) -> dict:
    """The hash of every score file an analysis read (None where one is not current), of every phantom file it could
    read (None where missing: results made before a method's phantoms existed are stale once they do), and of the
    LDS subset models' files where it used them."""
    files, phantoms = {}, {}
    whole = set(whole_posterior_methods())  # made from the samples themselves: their checkpoints, by hash
    with_phantoms = set(phantom_methods())
    owner = experiment if experiment.draws_samples else experiment.base
    for method in methods:
        for seed in seeds:
            for epoch in experiment.checkpoint_epochs:
                path = owner.checkpoint_path(seed, epoch) if method in whole else experiment.scores_path(method, seed, epoch)
                files[f"{method}/{seed}/{epoch}"] = file_hash(path) if provenance.problem(path) is None else None
                if method in with_phantoms:
                    path = phantom_path(owner, method, seed, epoch)
                    phantoms[f"{method}/{seed}/{epoch}"] = file_hash(path) if provenance.problem(path) is None else None
    if not designs:
        return {"scores": files, "phantoms": phantoms}
    lds = {}
    for design in designs:
        for seed in design.seeds(seeds):
            path = design.path(experiment, seed)
            key = str(seed) if design == LdsDesign(design.subsets, "paired") else f"{design.halves}/{design.target}/{seed}"
            lds[key] = file_hash(path) if provenance.problem(path) is None else None
    return {"scores": files, "phantoms": phantoms, "lds": lds}


RESULTS_KIND = provenance.declare(provenance.Kind("results", lambda w: results_inputs(
    Experiment.from_record(w), w["methods"], w["seeds"], lds_designs_of(w))))


def record_results(experiment: Experiment, methods, seeds, paths, designs: list[LdsDesign] = ()) -> None:
    """Record analysis outputs as made from the current score files of these methods and seeds (and the LDS
    subset models' files, where used)."""
    fields = {}
    if designs:
        first = designs[0]
        fields = {"lds_subsets": first.subsets, "lds_halves": [d.halves for d in designs]}
        if first.target != "paired":
            fields.update(lds_target=first.target, lds_models=first.models)
        if fields["lds_halves"] == ["random"]:
            del fields["lds_halves"]
    what = experiment.record_what("results", methods=list(methods), seeds=list(seeds), **fields)
    inputs = results_inputs(experiment, methods, seeds, designs)
    for path in paths:
        provenance.write(path, what, inputs)
