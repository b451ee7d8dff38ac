"""Every command line this package suggests in a message or runs as a job: the per-seed flags of an experiment's
seed, its training, its score scripts, its LDS retraining.

Messages name the command that makes what is missing; the launcher runs the same argv. One place builds them,
so that a message never suggests a command the scripts would refuse.
"""

from __future__ import annotations

import shlex

from ..attribution.registry import get
from ..core.seeds import seed_id_of
from .experiment import Experiment


def seed_flags(experiment: Experiment, seed: int) -> list[str]:
    """The flags that name an experiment's model, data and seed in every per-seed script."""
    family = experiment.family
    flags = [family.model_flag, family.model_flag_value(experiment), "--task", experiment.task,
             "--num_per_class", str(experiment.num_per_class), "--seed_id", str(seed_id_of(seed))]
    flags += ["--subset-seed", str(experiment.subset_seed)] if experiment.subset_seed else []
    return flags + (["--sampler", experiment.sampler] if experiment.draws_samples else [])  # a view's files are the paper's


def training_argv(experiment: Experiment, seed: int) -> list[str]:
    """The training script call (relative to the repository root) for one seed."""
    return [experiment.family.training_script, *seed_flags(experiment, seed)]


def training_command(experiment: Experiment, seed: int) -> str:
    """The training command as a user types it (for messages)."""
    return shlex.join(["python", *training_argv(experiment, seed)])


def score_argvs(experiment: Experiment, method: str, seed: int) -> list[list[str]]:
    """The script calls (argv lists, relative to the repository root) that write a method's scores for one seed."""
    flags = seed_flags(experiment, seed)
    return [[command[0], *flags, *command[1:]] for command in get(method).commands(experiment.family.scripts)]


def score_command(experiment: Experiment, method: str, seed: int) -> str:
    """The commands as a user types them (for messages): `python <script> <flags>`, joined by 'then'."""
    return " then ".join(shlex.join(["python", *argv]) for argv in score_argvs(experiment, method, seed))


def first_score_command(experiment: Experiment, method: str, seed: int) -> str:
    """The first of a method's commands (the s_test stage of a two-stage method)."""
    return shlex.join(["python", *score_argvs(experiment, method, seed)[0]])


def lds_argv(experiment: Experiment, m: int, target: str = "independent", halves: str | None = None,
             models: int = 10, seed_index: int | None = None, jobs: int | None = None) -> list[str]:
    """The LDS retraining call (relative to the repository root), the script's defaults left out: halves None is
    both; `seed_index` the k-th seed of the target (paired: the posterior seed id; independent: the k-th of its R
    seeds), None all of them; `jobs` its processes."""
    argv = ["run_lds_retraining.py", "--experiment", experiment.name, "--lds-subsets", str(m)]
    if halves == "leave_one_out":  # the from-scratch LOO truth: no M, always the posterior seeds
        argv = ["run_lds_retraining.py", "--experiment", experiment.name, "--halves", halves]
        argv += [] if seed_index is None else ["--seed_id", str(seed_index)]
        return argv if jobs is None else [*argv, "--jobs", str(jobs)]
    if target != "independent":
        argv += ["--lds-target", target]
    elif models != 10:
        argv += ["--lds-models", str(models)]
    if halves is not None:
        argv += ["--halves", halves]
    if seed_index is not None:
        argv += ["--seed_id", str(seed_index)]
    return argv if jobs is None else [*argv, "--jobs", str(jobs)]


def lds_command(experiment: Experiment, m: int, seed: int | None = None, target: str = "independent",
                halves: str | None = None, models: int = 10) -> str:
    """The command that makes (or remakes) the LDS subset models, for messages (halves None: both; seed: a paired
    target's posterior seed)."""
    index = None if seed is None else seed_id_of(seed)
    return shlex.join(["python", *lds_argv(experiment, m, target, halves, models, index)])


def adopt_command(experiment: Experiment) -> str:
    """The command that records an experiment's unrecorded outputs as they are (bayestda 0.1's files)."""
    return f"python -m bayestda.provenance adopt --experiment {experiment.name}"


def analysis_argvs(experiment: Experiment, methods, seed_ids, lds: tuple[int, str, int] | None) -> list[list[str]]:
    """The analysis scripts (p-values, then correlations and summary) for some methods and seeds; `lds`: the
    (M, target, R) of the LDS retraining the correlations use; None: the analysis' own default (the family's M
    where its subset models exist)."""
    flags = ["--experiment", experiment.name, "--methods", ",".join(methods), "--seed_ids", ",".join(map(str, seed_ids))]
    lds_flags = []
    if lds is not None:
        m, target, models = lds
        lds_flags = ["--lds-subsets", str(m), "--lds-target", target, "--lds-models", str(models)]
    return [["run_compute_pvalues.py", *flags], ["run_correlation_analysis.py", *flags, *lds_flags]]


def damping_argv(experiment: Experiment) -> list[str]:
    """The damping curve at the last checkpoint of every seed (run_damping.py's default)."""
    return ["run_damping.py", "--experiment", experiment.name]
