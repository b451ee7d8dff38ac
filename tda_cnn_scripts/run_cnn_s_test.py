"""First IF stage, as in the paper: compute and store the inverse-HVP vectors of one seed's checkpoints.

Stores, per checkpoint, the paper's one-pass LiSSA vectors (`if`) and the exact damped Gauss-Newton
vectors (`if_converged`), on the side with fewer items (train: 30 vectors for mnist3_10pc instead of 900).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bayestda.cli import add_tda_flags, run, tda_job  # noqa: E402
from bayestda.pipeline import IF_METHODS, run_inverse_hvps  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    add_tda_flags(parser)
    args = parser.parse_args(argv)
    experiment, seed = tda_job(args)
    run_inverse_hvps(experiment, seed, IF_METHODS, args.ckpts, overwrite=args.overwrite, device=args.device)
    return 0


if __name__ == "__main__":
    run(main)
