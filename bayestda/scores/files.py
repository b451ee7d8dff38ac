"""Score files in the paper's layout: tda_scores/<model>/<method>/<task>_<n>pc/<seed>/attribution_ckpt_<e>.csv,
a `train_idx` column, then one `z_test_<idx>` column per test item, rows and columns in subset order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from .. import provenance
from ..attribution.registry import Method, get
from ..core.errors import MissingOutput
from ..core.io import atomic_write, file_hash, save_csv
from ..experiments.commands import score_command
from ..experiments.experiment import Experiment
from ..numerics.many_models import AdamSettings

PAPER_ADAM = AdamSettings()


# --- records: what a method's file at one checkpoint is made from ----------------------------------------------
def method_inputs(experiment: Experiment, method: str | Method, seed: int, epoch: int) -> dict:
    """That checkpoint (by hash) and the method's settings (the registered method's, or the given Method's: a
    method run with its own settings)."""
    m = get(method) if isinstance(method, str) else method
    checkpoint = experiment.checkpoint_path(seed, epoch)
    inputs = {"checkpoint": file_hash(checkpoint) if checkpoint.exists() else None, "method": m.name,
              "method_version": m.version, "settings": m.settings}
    adam = experiment.family.recipe.adam
    if "retraining" in m.needs and (adam.lr, adam.weight_decay) != (PAPER_ADAM.lr, PAPER_ADAM.weight_decay):
        # a family with its own optimiser (cnn-wd0, cnn-wd10x): its retraining repeats it (recorded only there, so
        # the paper's families' records stay as they were; files made before 0.6 with the paper's decay are stale)
        inputs["retraining_adam"] = {"lr": adam.lr, "weight_decay": adam.weight_decay}
    return inputs


def record_method(experiment: Experiment, method: str | Method, seed: int, epoch: int, path, kind: str = "scores",
                  made_with: dict | None = None) -> None:
    """Record a method's output at one checkpoint (kind scores, residuals or inverse_hvp) just written."""
    name = method if isinstance(method, str) else method.name
    provenance.write(path, experiment.record_what(kind, seed=seed, epoch=epoch, method=name),
                     method_inputs(experiment, method, seed, epoch), made_with)


def _method_inputs_of(what: dict) -> dict:
    return method_inputs(Experiment.from_record(what), what["method"], what["seed"], what["epoch"])


def _checkpoint_of(what: dict):
    return Experiment.from_record(what).checkpoint_path(what["seed"], what["epoch"])


def declare_method_output(kind: str, path_of) -> provenance.Kind:
    """Declare a kind of per-checkpoint method output (its file at `path_of(experiment, method, seed, epoch)`):
    made from its checkpoint and the method's settings, stale with its checkpoint."""
    return provenance.declare(provenance.Kind(
        kind, _method_inputs_of,
        lambda w: path_of(Experiment.from_record(w), w["method"], w["seed"], w["epoch"]), _checkpoint_of))


def to_frame(matrix: torch.Tensor | np.ndarray, train_idx, test_idx) -> pd.DataFrame:
    """The paper's CSV table for a [n_train, n_test] matrix."""
    values = matrix.detach().cpu().double().numpy() if isinstance(matrix, torch.Tensor) else np.asarray(matrix, dtype=float)
    train_idx = np.asarray(train_idx).astype(np.int64)
    columns = [f"z_test_{int(i)}" for i in np.asarray(test_idx)]
    frame = pd.DataFrame(values, columns=columns)
    frame.insert(0, "train_idx", train_idx)
    return frame


def write(experiment: Experiment, method: str, seed: int, epoch: int, matrix, train_idx, test_idx,
          made_with: dict | None = None, settings_of: dict[str, Method] | None = None, kind: str = "scores") -> None:
    """Write one score file atomically (9 significant digits: float32 values round-trip exactly), then its record
    (with the settings of `settings_of[method]` where the method ran with its own). kind "phantom_scores": the
    rows are the experiment's phantom items (phantom_path)."""
    settings_of = settings_of or {}
    frame = to_frame(matrix, train_idx, test_idx)
    path = (phantom_path if kind == "phantom_scores" else _scores_path)(experiment, method, seed, epoch)
    atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False, float_format="%.9g"))
    record_method(experiment, settings_of.get(method, method), seed, epoch, path, kind=kind, made_with=made_with)


def _scores_path(experiment: Experiment, method: str, seed: int, epoch: int):
    return experiment.scores_path(method, seed, epoch)


def phantom_path(experiment: Experiment, method: str, seed: int, epoch: int):
    """A method's scores of the phantom items (held-out images scored as train items) at one checkpoint, beside
    its score file: the same layout, the phantom items' indices in `train_idx`."""
    return experiment.scores_dir(method, seed) / f"phantom_ckpt_{epoch}.csv"


def phantom_problem(experiment: Experiment, method: Method, seed: int, epoch: int):
    """Why the phantom file of a method at one checkpoint is not current (None where it is)."""
    return provenance.problem(phantom_path(experiment, method.name, seed, epoch),
                              method_inputs(experiment, method, seed, epoch))


def load_phantom_array(experiment: Experiment, method: str, seed: int, ckpt: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(scores [n_phantom, n_test], phantom indices, test indices) of one phantom file, or one line naming the
    command that makes it."""
    path = phantom_path(experiment, method, seed, ckpt)
    if not path.exists():
        raise MissingOutput(f"missing phantom scores {path}; run: {score_command(experiment, method, seed)} --phantoms")
    return _as_array(pd.read_csv(path).set_index("train_idx"))


def _as_array(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(scores, row indices, test indices) of a score table in the paper's layout."""
    test_idx = np.array([int(c.removeprefix("z_test_")) for c in frame.columns])
    return frame.to_numpy(dtype=np.float64), frame.index.to_numpy(), test_idx


def is_done(experiment: Experiment, method: str | Method, seed: int, epoch: int) -> bool:
    """The score file exists and is current: made from today's checkpoint with the method's settings."""
    name = method if isinstance(method, str) else method.name
    expected = None if isinstance(method, str) else method_inputs(experiment, method, seed, epoch)
    return provenance.problem(experiment.scores_path(name, seed, epoch), expected) is None


def load(experiment: Experiment | str, method: str, seed: int, ckpt: int) -> pd.DataFrame:
    """One score file as a DataFrame (the paper's layout).

    Args:
        experiment: an Experiment or its name, e.g. "cnn_mnist3_10pc".
        method: a registered method, e.g. "gd".
        seed: the seed (e.g. 446), not its position.
        ckpt: the checkpoint epoch (e.g. 14).

    Returns:
        DataFrame indexed by `train_idx`, one column `z_test_<idx>` per test item; a missing file is one line
        naming the command that makes it.
    """
    experiment = Experiment.parse(experiment) if isinstance(experiment, str) else experiment
    path = experiment.scores_path(method, seed, ckpt)
    if not path.exists():
        raise MissingOutput(f"missing scores {path}; run: {score_command(experiment, method, seed)}")
    return pd.read_csv(path).set_index("train_idx")


def load_array(experiment: Experiment | str, method: str, seed: int, ckpt: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(scores [n_train, n_test], train indices, test indices) of one score file."""
    return _as_array(load(experiment, method, seed, ckpt))


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
    record_method(experiment, method, seed, epoch, path, kind="residuals")


def residuals_path(experiment: Experiment, method: str, seed: int, epoch: int):
    return experiment.scores_dir(method, seed) / f"residuals_ckpt_{epoch}.csv"


def missing(experiment: Experiment, methods, seeds, epochs) -> list[tuple[str, int, int]]:
    """(method, seed, epoch) of every score file that does not exist yet."""
    return [(m, s, e) for m in methods for s in seeds for e in epochs if not experiment.scores_path(m, s, e).exists()]


SCORES_KIND = declare_method_output("scores", lambda experiment, method, seed, epoch: experiment.scores_path(method, seed, epoch))
PHANTOM_KIND = declare_method_output("phantom_scores", phantom_path)
RESIDUALS_KIND = declare_method_output("residuals", residuals_path)
