"""Orchestration: the stage graph (`stages`), the plan of jobs (`jobs`), the local launcher and SLURM (`slurm`)."""
