"""The local launcher: a plan's jobs on GPU slots (one job per GPU) or CPU workers sharing the cores, each when
the jobs it needs have succeeded; finished jobs are skipped, a failed one is reported with its log."""

from __future__ import annotations

import logging
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from tqdm import tqdm

from ..core.device import device_problem
from ..core.errors import BadInput
from ..core.paths import REPO_ROOT
from .jobs import THREAD_VARIABLES, Job, Report, acquire, log_dir, remove_stale_temporaries, shell_line

log = logging.getLogger(__name__)


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


@dataclass
class _Pool:
    """The launcher's state: jobs pending and running, free slots, each finished job's outcome, the report."""

    pending: list[Job]
    free: list[Slot]
    bar: tqdm
    in_plan: set[str]
    running: list[_Running] = field(default_factory=list)
    state: dict[str, str] = field(default_factory=dict)
    report: Report = field(default_factory=Report)

    def finish(self, job: Job, outcome: str, listed: list | None = None) -> None:
        self.state[job.name] = outcome
        if listed is not None:
            listed.append(job.name)
        self.bar.update(1)

    def needs_met(self, job: Job) -> bool:  # a need outside the plan counts as met
        return all(self.state.get(n) == "done" for n in job.needs if n in self.in_plan)

    def settle(self) -> None:
        """Jobs done already (before we started, or by another launcher) and jobs a failure blocks leave the queue."""
        for job in list(self.pending):
            if job.is_done():
                self.finish(job, "done", self.report.skipped)
                self.pending.remove(job)
            elif any(self.state.get(n) in ("failed", "blocked") for n in job.needs):
                self.finish(job, "blocked", self.report.blocked)
                self.pending.remove(job)

    def start_ready(self) -> None:
        """Each job whose needs are met on a free slot, once we hold its lock (another launcher may run it)."""
        for job in list(self.pending):
            if not self.free:
                break
            if not self.needs_met(job):
                continue
            lock = acquire(job)
            if lock is None:
                continue  # another launcher runs it; look again later
            if job.is_done():  # it finished between our check and our lock: skipped on the next round
                lock.unlink(missing_ok=True)
                continue
            remove_stale_temporaries(job)
            self.running.append(_start(job, self.free.pop(0), lock))
            self.pending.remove(job)
            log.info("started %s on %s", job.name, self.running[-1].slot.name)

    def reap(self) -> None:
        """Jobs whose process ended: done when it exited 0 and its files are current, else failed (log tail shown)."""
        for run in [r for r in self.running if r.process.poll() is not None]:
            self.running.remove(run)
            run.log_handle.close()
            run.lock.unlink(missing_ok=True)
            self.free.append(run.slot)
            code, job = run.process.returncode, run.job
            if code == 0 and job.is_done():
                self.finish(job, "done", self.report.succeeded)
                continue
            self.finish(job, "failed")
            self.report.failed[job.name] = run.log_path
            why = f"exit {code}" if code else f"missing {job.missing()[0]}"
            log.error("FAILED %s (%s); log: %s\n%s", job.name, why, run.log_path, _tail(run.log_path))


def run_local(jobs: list[Job], slots: list[Slot], poll_s: float = 0.2, show_progress: bool = True) -> Report:
    """Run pending jobs, one per slot at a time, each when the jobs it needs have succeeded."""
    pool = _Pool(list(jobs), list(slots), tqdm(total=len(jobs), desc="jobs", unit="job", disable=not show_progress),
                 {j.name for j in jobs})
    while pool.pending or pool.running:
        pool.settle()
        pool.start_ready()
        pool.reap()
        if pool.pending or pool.running:
            time.sleep(poll_s)  # waiting for our jobs, or for jobs another launcher holds
    pool.bar.close()
    return pool.report


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return "\n".join("    " + line for line in path.read_text().splitlines()[-lines:])
    except OSError:
        return ""
