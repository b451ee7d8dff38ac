"""Second IF stage: influence scores from the stored inverse-HVP vectors (run run_cnn_s_test.py first).

Writes `if` and `if_converged` scores (plus the converged solve's residuals); the vectors are deleted
afterwards unless --keep-inverse-hvp.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bayestda.cli import add_tda_flags, run, tda_job  # noqa: E402
from bayestda.pipeline import IF_METHODS, run_scores  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    add_tda_flags(parser)
    parser.add_argument("--keep-inverse-hvp", action="store_true", help="keep the stored vectors after scoring")
    args = parser.parse_args(argv)
    experiment, seed = tda_job(args)
    run_scores(experiment, seed, IF_METHODS, args.ckpts, overwrite=args.overwrite, strategy=args.strategy,
               device=args.device, use_stored_inverse=True, keep_inverse=args.keep_inverse_hvp)
    return 0


if __name__ == "__main__":
    run(main)
