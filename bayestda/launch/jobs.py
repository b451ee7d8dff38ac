"""A job of a plan: one or more script calls with the files that mean it is done, and what every launcher shares
around jobs (locks, logs, hidden temporaries, the report). The plan itself comes from the stage graph
(`stages.py`); `local.py` runs it here, `slurm.py` on a cluster.

A job is done when all its output files are current; every file is written atomically by the scripts, so a
killed job leaves only hidden temporary files, which the next run of that job removes. Each job holds a lock file
while it runs, so two launchers on the same grid never run (or write) the same job at once.
"""

from __future__ import annotations

import os
import shlex
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .. import provenance
from ..core.io import process_alive
from ..core.paths import output_root

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")  # a job's share of the cores


@dataclass(frozen=True)
class Job:
    """One command of the grid, with the jobs it needs and the files that mean it is done."""

    name: str
    stage: str
    commands: tuple[tuple[str, ...], ...]  # argv lists, run from the repository root, one after the other
    outputs: tuple[Path, ...]
    needs: tuple[str, ...] = ()
    gpu: bool = False  # profits from a GPU (gets --device cuda on GPU slots)
    done_instead: tuple[Path, ...] = ()  # an intermediate's job: also done once these (what it feeds) are current

    def is_done(self) -> bool:
        """Every output exists and is current (made from the inputs on disk now: see provenance.py), or, for an
        intermediate (inverse-HVP vectors), what it feeds is."""
        if self.done_instead and all(provenance.is_current(path) for path in self.done_instead):
            return True
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
