"""Score files in the paper's layout: tda_scores/<model>/<method>/<task>_<n>pc/<seed>/attribution_ckpt_<e>.csv,
a `train_idx` column, then one `z_test_<idx>` column per test item, rows and columns in subset order."""

from __future__ import annotations

import shlex

import numpy as np
import pandas as pd
import torch

from . import provenance
from .checkpoints import seed_flags
from .errors import BayesTDAError
from .experiment import Experiment
from .io import atomic_write, save_csv


def score_argvs(experiment: Experiment, method: str, seed: int) -> list[list[str]]:
    """The script calls (argv lists, relative to the repository root) that write a method's scores for one seed."""
    from .attribution.registry import get

    flags = seed_flags(experiment, seed)
    return [[command[0], *flags, *command[1:]] for command in get(method).commands(experiment.model_task.scripts)]


def score_command(experiment: Experiment, method: str, seed: int) -> str:
    """The commands as a user types them (for messages): `python <script> <flags>`, joined by 'then'."""
    return " then ".join(shlex.join(["python", *argv]) for argv in score_argvs(experiment, method, seed))


def to_frame(matrix: torch.Tensor | np.ndarray, train_idx, test_idx) -> pd.DataFrame:
    """The paper's CSV table for a [n_train, n_test] matrix."""
    values = matrix.detach().cpu().double().numpy() if isinstance(matrix, torch.Tensor) else np.asarray(matrix, dtype=float)
    train_idx = np.asarray(train_idx).astype(np.int64)
    columns = [f"z_test_{int(i)}" for i in np.asarray(test_idx)]
    frame = pd.DataFrame(values, columns=columns)
    frame.insert(0, "train_idx", train_idx)
    return frame


def write(experiment: Experiment, method: str, seed: int, epoch: int, matrix, train_idx, test_idx,
          made_with: dict | None = None) -> None:
    """Write one score file atomically (9 significant digits: float32 values round-trip exactly), then its record."""
    frame = to_frame(matrix, train_idx, test_idx)
    path = experiment.scores_path(method, seed, epoch)
    atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False, float_format="%.9g"))
    provenance.record_method(experiment, method, seed, epoch, path, made_with=made_with)


def is_done(experiment: Experiment, method: str, seed: int, epoch: int) -> bool:
    """The score file exists and is current: made from today's checkpoint with today's method settings."""
    return provenance.is_current(experiment.scores_path(method, seed, epoch))


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


def write_residuals(experiment: Experiment, method: str, seed: int, epoch: int, side: str, indices, residuals,
                    error_bounds=None) -> None:
    """Relative residuals of an inverse-HVP solve (if_converged), one row per solved item, with the bound on the
    error of that item's scores over the score scale where known."""
    frame = pd.DataFrame({
        "item_idx": np.asarray(indices).astype(np.int64),
        "side": side,
        "relative_residual": torch.as_tensor(residuals).double().cpu().numpy(),
    })
    if error_bounds is not None:
        frame["score_error_bound_over_scale"] = torch.as_tensor(error_bounds).double().cpu().numpy()
    path = residuals_path(experiment, method, seed, epoch)
    save_csv(frame, path)
    provenance.record_method(experiment, method, seed, epoch, path, kind="residuals")


def residuals_path(experiment: Experiment, method: str, seed: int, epoch: int):
    return experiment.scores_dir(method, seed) / f"residuals_ckpt_{epoch}.csv"


def missing(experiment: Experiment, methods, seeds, epochs) -> list[tuple[str, int, int]]:
    """(method, seed, epoch) of every score file that does not exist yet."""
    return [(m, s, e) for m in methods for s in seeds for e in epochs if not experiment.scores_path(m, s, e).exists()]
