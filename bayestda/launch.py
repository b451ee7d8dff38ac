"""The paper's grid as jobs: plan them in stage order, run them on local GPUs / CPU workers or on SLURM.

A job is one call of a per-seed script (or the analysis scripts) with its flags: the launcher runs the
same commands a user would type. Stages, in order of dependence:
    train -> inverse_hvp (s_test) -> if;   train -> scores (loo, ats, gd_and_gc, tracin, ...);
    lds (the LDS retraining, on request: one job per halves and target seed);   all -> analysis.
Which scripts write which methods, and in which stage, comes from the method registry.
A job is done when all its output files exist; every file is written atomically by the scripts, so a
killed job leaves only hidden temporary files, which the next run of that job removes. Each job holds a
lock file while it runs, so two launchers on the same grid never run (or write) the same job at once.
"""

from __future__ import annotations

import logging
import os
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from tqdm import tqdm

from . import provenance
from .attribution.registry import in_registry_order, script_methods, script_path
from .commands import seed_flags, training_argv
from .data import generate_subsets, subset_path
from .device import device_problem
from .errors import BadInput
from .experiment import TASKS, Experiment
from .io import process_alive
from .lds import HALVES, LdsDesign
from .paths import REPO_ROOT, output_root
from .pipeline import inverse_hvp_path
from .results_records import record_results  # noqa: F401  (declares the results kind: analysis jobs are done when current)
from .seeds import load_seeds

log = logging.getLogger(__name__)

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")  # a job's share of the cores
STAGES = ("train", "inverse_hvp", "if", "scores", "lds", "analysis")


@dataclass(frozen=True)
class ScriptCall:
    """One per-seed script call of the plan, derived from the method registry: what it writes and when it runs."""

    name: str  # the job's last name part: the script (gd_and_gc, s_test, loo--from-pretrained) or the method
    script: str  # registry script name
    extra: tuple[str, ...]  # flags after the experiment flags
    methods: tuple[str, ...]  # the methods whose score files it writes (none for s_test)
    stage: str
    stored_inverse: tuple[str, ...] = ()  # s_test: the methods whose vectors it stores


def script_calls(methods: Iterable[str]) -> list[ScriptCall]:
    """The per-seed script calls that produce the methods, in registry order (an inverse-HVP script's s_test first).

    A named script writes every method declared with it (gd_and_gc writes gd and gc); methods on the generic
    script `all` get one call each, with --methods.
    """
    calls: dict[str, ScriptCall] = {}
    for method in in_registry_order(methods):
        if method.script == "all":
            calls[method.name] = ScriptCall(method.name, "all", ("--methods", method.name), (method.name,), "scores")
            continue
        name = "".join([method.script, *method.script_flags])
        if name in calls:
            continue
        produced = tuple(script_methods(method.script, method.script_flags))
        if method.inverse_hvp is not None:
            calls["s_test"] = ScriptCall("s_test", "s_test", (), (), "inverse_hvp", produced)
            calls[name] = ScriptCall(name, method.script, method.script_flags, produced, "if")
        else:
            calls[name] = ScriptCall(name, method.script, method.script_flags, produced, "scores")
    return list(calls.values())


@dataclass(frozen=True)
class Job:
    """One command of the grid, with the jobs it needs and the files that mean it is done."""

    name: str
    stage: str
    commands: tuple[tuple[str, ...], ...]  # argv lists, run from the repository root, one after the other
    outputs: tuple[Path, ...]
    needs: tuple[str, ...] = ()
    gpu: bool = False  # profits from a GPU (gets --device cuda on GPU slots)

    def is_done(self) -> bool:
        """Every output exists and is current (made from the inputs on disk now: see provenance.py)."""
        return all(provenance.is_current(path) for path in self.outputs)

    def missing(self) -> list[Path]:
        return [path for path in self.outputs if not provenance.is_current(path)]

    def argv(self, device: str | None = None) -> list[list[str]]:
        """The commands, with --device added for the TDA scripts when the slot has one."""
        out = []
        for command in self.commands:
            extra = ["--device", device] if device and self.gpu and "--device" not in command else []
            out.append([sys.executable, *command, *extra])
        return out

    @property
    def slug(self) -> str:
        return self.name.replace("/", "__")


def _seed_jobs(experiment: Experiment, seed: int, calls: list[ScriptCall]) -> list[Job]:
    task = experiment.model_task
    flags = seed_flags(experiment, seed)
    epochs = experiment.checkpoint_epochs
    train_name = f"{experiment.name}/{seed}/train"
    train = Job(train_name, "train", (tuple(training_argv(experiment, seed)),),
                tuple(experiment.checkpoint_path(seed, e) for e in epochs) + (experiment.metrics_path(seed),),
                gpu=task.gpu_training)
    jobs = [train]
    s_test_name = f"{experiment.name}/{seed}/s_test"
    for call in calls:
        path = script_path(task.scripts, call.script)
        if call.stored_inverse:  # the vectors are an intermediate: once the scores exist, s_test counts as done
            scored = tuple(experiment.scores_path(m, seed, e) for m in call.stored_inverse for e in epochs)
            vectors = tuple(inverse_hvp_path(experiment, m, seed, e) for m in call.stored_inverse for e in epochs)
            outputs = scored if all(provenance.is_current(p) for p in scored) else vectors
            needs = (train_name,)
        else:
            outputs = tuple(experiment.scores_path(m, seed, e) for m in call.methods for e in epochs)
            needs = (train_name, s_test_name) if call.stage == "if" else (train_name,)
        jobs.append(Job(f"{experiment.name}/{seed}/{call.name}", call.stage, ((path, *flags, *call.extra),), outputs,
                        needs, gpu=True))
    return jobs


def _lds_jobs(experiment: Experiment, m: int, models: int) -> list[Job]:
    """The LDS retraining of an experiment: one job per halves (random, stratified) and independent target seed."""
    jobs = []
    for halves in HALVES:
        design = LdsDesign(m, "independent", halves, models)
        for k, seed in enumerate(design.seeds()):
            argv = ("run_lds_retraining.py", "--experiment", experiment.name, "--lds-subsets", str(m), "--halves",
                    halves, "--lds-models", str(models), "--seed_id", str(k), "--jobs", "1")
            jobs.append(Job(f"{experiment.name}/lds/{halves}/{k}", "lds", (argv,), (design.path(experiment, seed),)))
    return jobs


def plan(experiments: list[Experiment], methods: list[str], seed_ids: list[int] | None = None,
         analysis: bool = True, lds_subsets: int = 0, lds_models: int = 10) -> list[Job]:
    """Every job of the grid, in stage order; analysis jobs need every score job of their experiment (and, with
    lds_subsets M, its LDS retraining over M random and M class-stratified halves, for the families that
    support it)."""
    seeds = load_seeds()
    seed_ids = list(range(len(seeds))) if seed_ids is None else seed_ids
    for k in seed_ids:
        if not 0 <= k < len(seeds):
            raise BadInput(f"seed id {k} is out of range; allowed: 0..{len(seeds) - 1}")
    calls = script_calls(methods)
    jobs: list[Job] = []
    for experiment in experiments:
        experiment_jobs = []
        for k in seed_ids:
            experiment_jobs += _seed_jobs(experiment, seeds[k], calls)
        lds = bool(lds_subsets) and experiment.model_task.supports_lds
        if lds:
            experiment_jobs += _lds_jobs(experiment, lds_subsets, lds_models)
        jobs += experiment_jobs
        if analysis and methods and len(seed_ids) >= 2:
            flags = ("--experiment", experiment.name, "--methods", ",".join(methods),
                     "--seed_ids", ",".join(map(str, seed_ids)))
            lds_flags = ("--lds-subsets", str(lds_subsets), "--lds-target", "independent", "--lds-models",
                         str(lds_models)) if lds else ()
            results = experiment.results_dir()
            jobs.append(Job(f"{experiment.name}/analysis", "analysis",
                            (("run_compute_pvalues.py", *flags), ("run_correlation_analysis.py", *flags, *lds_flags)),
                            (results / "mean_p_values.csv", results / "summary.md"),
                            tuple(j.name for j in experiment_jobs if j.stage != "inverse_hvp")))
    jobs.sort(key=lambda j: STAGES.index(j.stage))
    return jobs


def grid_experiments(names: list[str] | None, all_experiments: bool, vit_weights: str | None = None) -> list[Experiment]:
    """Experiments from --experiments (comma-separated names) or --all (both families, both tasks, all sizes)."""
    if all_experiments:
        models = ["cnn", "vit"]
        return [Experiment(m, t, n, vit_weights=vit_weights) for m in models for t in ("mnist3", "cifar10") for n in TASKS[t].sizes]
    if not names:
        raise BadInput("no experiments given; use --experiments cnn_mnist3_10pc[,...] or --all")
    return [Experiment.parse(name, vit_weights=vit_weights) for name in names]


def ensure_subsets(experiments: list[Experiment]) -> None:
    """Generate the shipped data subsets the experiments need, where missing (seconds; before any job)."""
    for task in sorted({e.task for e in experiments}):
        sizes = sorted({e.num_per_class for e in experiments if e.task == task})
        if any(not subset_path(task, "train", n).exists() for n in sizes) or not subset_path(task, "test").exists():
            generate_subsets(task, sizes)


def describe(jobs: list[Job]) -> str:
    """The plan: jobs per stage, how many are done, and the first few commands still to run."""
    lines = [f"{'stage':<12} {'jobs':>6} {'done':>6} {'to run':>7}"]
    for stage in STAGES:
        of_stage = [j for j in jobs if j.stage == stage]
        if of_stage:
            done = sum(j.is_done() for j in of_stage)
            lines.append(f"{stage:<12} {len(of_stage):>6} {done:>6} {len(of_stage) - done:>7}")
    todo = [j for j in jobs if not j.is_done()]
    lines.append(f"{'all':<12} {len(jobs):>6} {len(jobs) - len(todo):>6} {len(todo):>7}")
    for job in todo[:10]:
        lines.append(f"  {job.name}: " + " && ".join(" ".join(c) for c in job.commands))
    if len(todo) > 10:
        lines.append(f"  ... and {len(todo) - 10} more")
    return "\n".join(lines)


# --- locks and temporary files --------------------------------------------------------------------
def lock_dir() -> Path:
    return output_root() / ".locks"


def log_dir() -> Path:
    return output_root() / "logs"


def acquire(job: Job) -> Path | None:
    """Create the job's lock file (atomic O_EXCL); take over a lock whose process on this host is gone."""
    path = lock_dir() / f"{job.slug}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                host, pid = path.read_text().split()
            except (OSError, ValueError):
                return None  # being written right now by another launcher
            if host == socket.gethostname() and not process_alive(int(pid)):
                path.unlink(missing_ok=True)  # stale: its launcher was killed
                continue
            return None
        with os.fdopen(fd, "w") as f:
            f.write(f"{socket.gethostname()} {os.getpid()}\n")
        return path
    return None


def remove_stale_temporaries(job: Job) -> int:
    """Delete hidden temporary files (from an atomic write cut short) in the job's output folders."""
    removed = 0
    for folder in {p.parent for p in job.outputs}:
        if folder.exists():
            for tmp in folder.glob(".*.tmp"):
                tmp.unlink(missing_ok=True)
                removed += 1
    return removed


# --- local launcher -------------------------------------------------------------------------------
@dataclass
class Slot:
    """Where one job runs at a time: a GPU (pinned by CUDA_VISIBLE_DEVICES) or a share of the CPU cores."""

    name: str
    gpu: str | None = None
    threads: int | None = None

    def env(self) -> dict[str, str]:
        env = dict(os.environ, CUDA_VISIBLE_DEVICES="" if self.gpu is None else self.gpu)  # CPU slots see no GPU
        if self.threads is not None:
            for var in THREAD_VARIABLES:
                env[var] = str(self.threads)
        return env


def check_gpus(gpus: list[str]) -> None:
    """Refuse GPU ids that this machine does not have, in one line saying that CPU workers work."""
    why = device_problem(f"cuda:{max(int(g) for g in gpus)}", remedy="--workers N (CPU) works")
    if why is not None:
        raise BadInput(f"--gpus {','.join(gpus)}: {why}")


def make_slots(gpus: list[str] | None, workers: int | None) -> list[Slot]:
    """--gpus 0,1,2,3: one slot per GPU; --workers N: N CPU slots sharing the cores evenly."""
    if gpus:
        return [Slot(f"gpu{g}", gpu=g) for g in gpus]
    n = workers or 1
    if n < 1:
        raise BadInput(f"--workers {n} is not allowed; allowed: 1 or more")
    threads = max(1, (os.cpu_count() or 1) // n)
    return [Slot(f"cpu{i}", threads=threads) for i in range(n)]


@dataclass
class Report:
    succeeded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # already done
    failed: dict[str, Path] = field(default_factory=dict)  # job -> its log
    blocked: list[str] = field(default_factory=list)  # a job it needs failed

    def summary(self) -> str:
        lines = [f"{len(self.succeeded)} ran, {len(self.skipped)} already done, {len(self.failed)} failed, "
                 f"{len(self.blocked)} blocked by a failure"]
        lines += [f"FAILED {name}: see {path}" for name, path in self.failed.items()]
        lines += [f"BLOCKED {name}" for name in self.blocked]
        return "\n".join(lines)


def shell_line(argvs: list[list[str]]) -> str:
    """Commands as one shell line that stops at the first failure."""
    return " && ".join(shlex.join(argv) for argv in argvs)


@dataclass
class _Running:
    """A job started on a slot: its process, open log and lock, returned to the pool when it ends."""

    job: Job
    slot: Slot
    process: subprocess.Popen
    log_path: Path
    log_handle: IO[str]
    lock: Path


def _start(job: Job, slot: Slot, lock: Path) -> _Running:
    """Start the job's commands (in the launcher's process group: killing the launcher's group stops them)."""
    argvs = job.argv("cuda" if slot.gpu is not None else None)
    log_path = log_dir() / f"{job.slug}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(log_path, "w")  # noqa: SIM115 (closed when the job ends)
    handle.write(f"# {job.name} on {slot.name}\n" + "\n".join("# " + " ".join(a) for a in argvs) + "\n")
    handle.flush()
    process = subprocess.Popen(["bash", "-c", shell_line(argvs)], cwd=REPO_ROOT, env=slot.env(), stdout=handle,
                               stderr=subprocess.STDOUT)
    return _Running(job, slot, process, log_path, handle, lock)


def run_local(jobs: list[Job], slots: list[Slot], poll_s: float = 0.2, show_progress: bool = True) -> Report:
    """Run pending jobs, one per slot at a time, each when the jobs it needs have succeeded."""
    report = Report()
    state: dict[str, str] = {}
    in_plan = {j.name for j in jobs}
    pending = list(jobs)
    running: list[_Running] = []
    free = list(slots)
    bar = tqdm(total=len(pending), desc="jobs", unit="job", disable=not show_progress)

    def needs_met(job: Job) -> bool:  # a need outside the plan counts as met
        return all(state.get(n) == "done" for n in job.needs if n in in_plan)

    def finish(job: Job, outcome: str) -> None:
        state[job.name] = outcome
        bar.update(1)

    while pending or running:
        for job in list(pending):
            if job.is_done():  # done before we started, or finished meanwhile by another launcher
                finish(job, "done")
                report.skipped.append(job.name)
                pending.remove(job)
            elif any(state.get(n) in ("failed", "blocked") for n in job.needs):
                finish(job, "blocked")
                report.blocked.append(job.name)
                pending.remove(job)
        for job in list(pending):
            if not free:
                break
            if not needs_met(job):
                continue
            lock = acquire(job)
            if lock is None:
                continue  # another launcher runs it; look again later
            if job.is_done():  # it finished between our check and our lock: skipped on the next round
                lock.unlink(missing_ok=True)
                continue
            remove_stale_temporaries(job)
            running.append(_start(job, free.pop(0), lock))
            pending.remove(job)
            log.info("started %s on %s", job.name, running[-1].slot.name)
        for run in [r for r in running if r.process.poll() is not None]:
            running.remove(run)
            run.log_handle.close()
            run.lock.unlink(missing_ok=True)
            free.append(run.slot)
            code, job = run.process.returncode, run.job
            if code == 0 and job.is_done():
                finish(job, "done")
                report.succeeded.append(job.name)
            else:
                finish(job, "failed")
                report.failed[job.name] = run.log_path
                why = f"exit {code}" if code else f"missing {job.missing()[0]}"
                log.error("FAILED %s (%s); log: %s\n%s", job.name, why, run.log_path, _tail(run.log_path))
        if pending or running:
            time.sleep(poll_s)  # waiting for our jobs, or for jobs another launcher holds
    bar.close()
    return report


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return "\n".join("    " + line for line in path.read_text().splitlines()[-lines:])
    except OSError:
        return ""
