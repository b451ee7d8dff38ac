"""Score files in the paper's layout: tda_scores/<model>/<method>/<task>_<n>pc/<seed>/attribution_ckpt_<e>.csv,
a `train_idx` column, then one `z_test_<idx>` column per test item, rows and columns in subset order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from .errors import BayesTDAError
from .experiment import Experiment, load_seeds
from .io import atomic_write, save_csv

METHOD_SCRIPT = {  # {f} is the model family: cnn or vit
    "loo": "tda_{f}_scripts/run_{f}_loo.py",
    "loo_corrected": "tda_{f}_scripts/run_{f}_loo.py",
    "loo_pretrained": "tda_{f}_scripts/run_{f}_loo.py --from-pretrained",
    "ats": "tda_{f}_scripts/run_{f}_ats.py",
    "if": "tda_{f}_scripts/run_{f}_s_test.py then tda_{f}_scripts/run_{f}_if.py",
    "if_converged": "tda_{f}_scripts/run_{f}_s_test.py then tda_{f}_scripts/run_{f}_if.py",
    "gd": "tda_{f}_scripts/run_{f}_gd_and_gc.py",
    "gc": "tda_{f}_scripts/run_{f}_gd_and_gc.py",
    "tracin": "tda_{f}_scripts/run_{f}_tracin.py",
}


def experiment_flags(experiment: Experiment, seed: int) -> str:
    """The per-seed script flags that name an experiment and seed (--arch for CNNs, --vit-weights for ViTs)."""
    seeds = load_seeds()
    seed_id = seeds.index(seed) if seed in seeds else seed
    family = f"--vit-weights {experiment.backbone}" if experiment.family == "vit" else f"--arch {experiment.model}"
    return f"{family} --task {experiment.task} --num_per_class {experiment.num_per_class} --seed_id {seed_id}"


def score_command(experiment: Experiment, method: str, seed: int) -> str:
    """The command that produces a method's scores for one seed."""
    scripts = METHOD_SCRIPT.get(method, "?").format(f=experiment.family)
    return " then ".join(f"python {script} {experiment_flags(experiment, seed)}" for script in scripts.split(" then "))


def to_frame(matrix: torch.Tensor | np.ndarray, train_idx, test_idx) -> pd.DataFrame:
    """The paper's CSV table for a [n_train, n_test] matrix."""
    values = matrix.detach().cpu().double().numpy() if isinstance(matrix, torch.Tensor) else np.asarray(matrix, dtype=float)
    train_idx = np.asarray(train_idx).astype(np.int64)
    columns = [f"z_test_{int(i)}" for i in np.asarray(test_idx)]
    frame = pd.DataFrame(values, columns=columns)
    frame.insert(0, "train_idx", train_idx)
    return frame


def write(experiment: Experiment, method: str, seed: int, epoch: int, matrix, train_idx, test_idx) -> None:
    """Write one score file atomically (9 significant digits: float32 values round-trip exactly)."""
    frame = to_frame(matrix, train_idx, test_idx)
    atomic_write(experiment.scores_path(method, seed, epoch), lambda tmp: frame.to_csv(tmp, index=False, float_format="%.9g"))


def exists(experiment: Experiment, method: str, seed: int, epoch: int) -> bool:
    return experiment.scores_path(method, seed, epoch).exists()


def load(experiment: Experiment | str, method: str, seed: int, ckpt: int) -> pd.DataFrame:
    """One score file as a DataFrame: index `train_idx`, columns `z_test_<idx>` (the paper's layout)."""
    experiment = Experiment.parse(experiment) if isinstance(experiment, str) else experiment
    path = experiment.scores_path(method, seed, ckpt)
    if not path.exists():
        raise BayesTDAError(f"missing scores {path}; run: {score_command(experiment, method, seed)}")
    return pd.read_csv(path).set_index("train_idx")


def load_array(experiment: Experiment | str, method: str, seed: int, ckpt: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(scores [n_train, n_test], train indices, test indices) of one score file."""
    frame = load(experiment, method, seed, ckpt)
    test_idx = np.array([int(c.removeprefix("z_test_")) for c in frame.columns])
    return frame.to_numpy(dtype=np.float64), frame.index.to_numpy(), test_idx


def write_residuals(experiment: Experiment, seed: int, epoch: int, side: str, indices, residuals) -> None:
    """Relative residuals of the converged inverse-HVP solve, one row per solved item."""
    frame = pd.DataFrame({
        "item_idx": np.asarray(indices).astype(np.int64),
        "side": side,
        "relative_residual": torch.as_tensor(residuals).double().cpu().numpy(),
    })
    save_csv(frame, experiment.scores_dir("if_converged", seed) / f"residuals_ckpt_{epoch}.csv")


def missing(experiment: Experiment, methods, seeds, epochs) -> list[tuple[str, int, int]]:
    """(method, seed, epoch) of every score file that does not exist yet."""
    return [(m, s, e) for m in methods for s in seeds for e in epochs if not exists(experiment, m, s, e)]
