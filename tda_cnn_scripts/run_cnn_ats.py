"""Adding-the-sample (ATS) scores: one fresh-Adam step per train item, for one seed's checkpoints."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bayestda.cli import add_tda_flags, run, tda_job  # noqa: E402
from bayestda.pipeline import run_scores  # noqa: E402

PRODUCES = ("ats",)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    add_tda_flags(parser)
    args = parser.parse_args(argv)
    experiment, seed = tda_job(args)
    run_scores(experiment, seed, PRODUCES, args.ckpts, overwrite=args.overwrite, strategy=args.strategy, device=args.device)
    return 0


if __name__ == "__main__":
    run(main)
