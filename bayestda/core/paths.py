"""Where the repository, its shipped data and its generated outputs live.

Outputs (models/, tda_scores/, results/) go under the repository root unless BAYESTDA_OUTPUT_ROOT
points elsewhere (tests use a temporary folder); data and seeds always come from the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]  # bayestda/core/paths.py
DATA_DIR = REPO_ROOT / "data"
SEEDS_FILE = REPO_ROOT / "random_seeds.pt"


def output_root() -> Path:
    """Root folder of generated outputs: $BAYESTDA_OUTPUT_ROOT or the repository root."""
    return Path(os.environ.get("BAYESTDA_OUTPUT_ROOT", REPO_ROOT))


def subset_dir() -> Path:
    """Folder of the generated subset files: $BAYESTDA_SUBSET_DIR or the shipped data folder."""
    return Path(os.environ.get("BAYESTDA_SUBSET_DIR", DATA_DIR))
