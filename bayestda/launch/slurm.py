"""The grid on a SLURM cluster through submitit: one job array per stage, stages chained by dependencies.

Each array task runs one job's commands (the same per-seed scripts as the local launcher) under the job's
lock. A stage's array starts after the arrays it depends on have ended (`afterany`): a task whose input is
missing (its training failed) fails at once with the one-line error naming the command to run, and the
other tasks go on. With --wait the launcher polls the arrays and reports every failed job with its log.
"""

from __future__ import annotations

import logging
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import BayesTDAError
from ..core.paths import REPO_ROOT
from .jobs import THREAD_VARIABLES, Job, Report, acquire, log_dir, remove_stale_temporaries, shell_line
from .stages import STAGE_NAMES

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SlurmOptions:
    partition: str | None = None
    time_min: int = 60
    gpus_per_job: int = 0
    cpus_per_job: int = 1
    mem_gb: int | None = None
    array_parallelism: int = 32  # at most this many tasks of one array run at once


def run_job(job: Job, device: str | None) -> str:
    """Body of one array task: run the job's commands under its lock; raise (task fails) if not done after."""
    if job.is_done():
        return "already done"
    lock = acquire(job)
    if lock is None:
        raise RuntimeError(f"{job.name} is locked by another launcher")
    try:
        remove_stale_temporaries(job)
        result = subprocess.run(["bash", "-c", shell_line(job.argv(device))], cwd=REPO_ROOT)
    finally:
        lock.unlink(missing_ok=True)
    if result.returncode != 0 or not job.is_done():
        raise RuntimeError(f"{job.name} failed (exit {result.returncode}); missing: {job.missing()[:1]}")
    return "done"


def submit(jobs: list[Job], options: SlurmOptions, wait: bool = False) -> Report:
    """Submit the pending jobs as one array per stage with dependencies; optionally wait and report."""
    try:
        import submitit  # noqa: PLC0415 (optional: only the SLURM launcher needs it)
    except ImportError:
        raise BayesTDAError("the SLURM launcher needs submitit; run: pip install -r req.txt") from None
    pending = [j for j in jobs if not j.is_done()]
    report = Report(skipped=[j.name for j in jobs if j.is_done()])
    folder = log_dir() / "slurm"
    device = "cuda" if options.gpus_per_job else None
    submitted: dict[str, list] = {}  # stage -> [(job name, submitit job)]
    stage_of = {j.name: j.stage for j in jobs}
    for stage in STAGE_NAMES:
        stage_jobs = [j for j in pending if j.stage == stage]
        if not stage_jobs:
            continue
        executor = submitit.AutoExecutor(folder=folder, cluster="slurm")
        root = shlex.quote(str(REPO_ROOT))
        parameters = dict(timeout_min=options.time_min, slurm_array_parallelism=options.array_parallelism,
                          cpus_per_task=options.cpus_per_job, name=f"bayestda-{stage}",
                          slurm_setup=[f"cd {root}", f"export PYTHONPATH={root}${{PYTHONPATH:+:$PYTHONPATH}}",
                                       *(f"export {v}={options.cpus_per_job}" for v in THREAD_VARIABLES)])
        if options.partition:
            parameters["slurm_partition"] = options.partition
        if options.gpus_per_job:
            parameters["gpus_per_node"] = options.gpus_per_job
        if options.mem_gb:
            parameters["mem_gb"] = options.mem_gb
        needed_stages = {stage_of[n] for j in stage_jobs for n in j.needs if n in stage_of}  # from the jobs' own needs
        after = sorted({h.job_id.split("_")[0] for s in needed_stages for _, h in submitted.get(s, [])})
        if after:
            parameters["slurm_additional_parameters"] = {"dependency": "afterany:" + ":".join(after)}
        executor.update_parameters(**parameters)
        with executor.batch():
            handles = [executor.submit(run_job, job, device) for job in stage_jobs]
        submitted[stage] = [(j.name, h) for j, h in zip(stage_jobs, handles)]
        log.info("stage %s: %d jobs submitted as array %s", stage, len(handles), handles[0].job_id.split("_")[0])
    if not wait:
        return report
    # Without SLURM accounting (slurmdbd) submitit's sacct calls fail and it falls back on the task's own result
    # files, warning at every poll: keep those warnings out of the report.
    logging.getLogger("submitit").setLevel(logging.ERROR)
    for named in submitted.values():
        for name, handle in named:
            try:
                handle.result()
                report.succeeded.append(name)
            except Exception as error:  # noqa: BLE001 (submitit re-raises the task's own failure)
                report.failed[name] = Path(handle.paths.stderr)
                log.error("FAILED %s: %s; log: %s", name, str(error).strip().splitlines()[-1] if str(error).strip() else "",
                          handle.paths.stderr)
    return report
