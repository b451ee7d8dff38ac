"""Scores as samples from the posterior: a [seeds, checkpoints, n_train, n_test] array per method.

Built from an experiment's score files, from a folder of score files in the paper's layout (any method,
seed and checkpoint names), or from an array. Every source is checked before anything is computed: a bad
file or array gets one line naming it and what is wrong, never NaN results.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..core.errors import BadInput, BayesTDAError, CorruptOutput, MissingOutput

SCORE_FILE = re.compile(r"^attribution_ckpt_(?P<ckpt>.+)\.csv$")


@dataclass
class PosteriorScores:
    """All scores of one method: values[seed, checkpoint, train, test], with the names of each axis."""

    method: str
    values: np.ndarray
    seeds: list
    epochs: list  # checkpoint names, in order (the last K are averaged per seed)
    train_idx: np.ndarray
    test_idx: np.ndarray  # test item names: canonical indices, or a user's column names
    test_columns: list[str] | None = None  # the score files' column names (default z_test_<idx>)

    def __post_init__(self) -> None:
        if self.values.ndim == 4 and self.values.shape[0] < 2:
            raise BadInput(f"scores of {self.method!r} have {self.values.shape[0]} seed(s) ({', '.join(map(str, self.seeds))}); "
                           "the posterior test needs at least 2 seeds, e.g. --seed_ids 0,1")
        if self.test_columns is None:
            self.test_columns = [f"z_test_{i}" for i in self.test_idx]

    @property
    def num_checkpoints(self) -> int:
        return self.values.shape[1]

    def summed_over_checkpoints(self) -> PosteriorScores:
        """One sample per seed, the sum of its checkpoints' scores (a method like TracInCP, whose files hold terms)."""
        return PosteriorScores(self.method, self.values.sum(axis=1, keepdims=True), self.seeds,
                               [f"sum of {len(self.epochs)}"], self.train_idx, self.test_idx, self.test_columns)

    def last_k_mean(self, k: int) -> np.ndarray:
        """[seeds, n_train, n_test]: each seed's scores averaged over its last k checkpoints."""
        return self.values[:, -k:].mean(axis=1)

    @classmethod
    def from_array(cls, method: str, array, seeds=None, checkpoints=None, train_idx=None, test_idx=None) -> PosteriorScores:
        """From a (seeds, checkpoints, n_train, n_test) numpy array or torch tensor, checked (at least 2 seeds,
        every value finite); names default to 0, 1, ... along each axis."""
        values = np.asarray(array.detach().cpu().double().numpy() if hasattr(array, "detach") else array, dtype=np.float64)
        if values.ndim != 4:
            raise BadInput(f"scores of {method!r} have shape {values.shape}; expected (seeds, checkpoints, n_train, n_test)")
        seeds_n, ckpts_n, n_train, n_test = values.shape  # under 2 seeds: refused by __post_init__
        if min(ckpts_n, n_train, n_test) < 1:
            raise BadInput(f"scores of {method!r} have shape {values.shape}; every axis needs at least one entry")
        bad = ~np.isfinite(values)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise BadInput(f"scores of {method!r} hold {int(bad.sum())} NaN or infinite values (first at "
                           f"[seed, checkpoint, train, test] = {list(where)})")
        name = lambda given, n: list(range(n)) if given is None else list(given)  # noqa: E731
        return cls(method, values, name(seeds, seeds_n), name(checkpoints, ckpts_n), np.asarray(name(train_idx, n_train)),
                   np.asarray(name(test_idx, n_test)))


# --- score files --------------------------------------------------------------------------------------
def _read_numeric(path: Path) -> tuple[np.ndarray, np.ndarray, list[str]] | None:
    """The fast path for a well-formed score CSV (numpy's C parser: ~10x pandas on a 900-column file, whose frame
    holds one block per column); None for anything else, which read_score_file then reads and explains."""
    try:
        with open(path, newline="") as handle:
            header = next(csv.reader(handle), [])
        if len(header) < 2 or header[0] != "train_idx":
            return None
        values = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2, usecols=range(1, len(header)), dtype=np.float64)
        train_idx = pd.read_csv(path, usecols=[0]).iloc[:, 0].to_numpy()
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None
    if not values.size or values.shape != (len(train_idx), len(header) - 1) or not np.isfinite(values).all():
        return None
    return values, train_idx, header[1:]


def read_score_file(path: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(values [n_train, n_test], train_idx, column names) of one score CSV, or one line naming what is wrong."""
    fast = _read_numeric(path)
    if fast is not None:
        return fast
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise CorruptOutput(f"{path} is not a readable score CSV ({str(error).strip().splitlines()[0]})") from None
    if frame.columns[0] != "train_idx" or frame.shape[1] < 2:
        raise CorruptOutput(f"{path} must start with a train_idx column followed by one column per test item; "
                            f"got columns {list(frame.columns[:3])}...")
    if frame.empty:
        raise CorruptOutput(f"{path} has no rows")
    scores = frame.iloc[:, 1:]
    if all(pd.api.types.is_numeric_dtype(t) for t in scores.dtypes):  # the usual case: no per-column conversion
        numeric = scores
    else:  # a text cell somewhere: find it (below) for the message
        numeric = scores.apply(pd.to_numeric, errors="coerce")
    bad = numeric.isna().to_numpy() | ~np.isfinite(numeric.to_numpy(dtype=np.float64))
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        raise CorruptOutput(f"{path} has {int(bad.sum())} empty, NaN or non-numeric cells (first: row {row + 1}, column "
                            f"{scores.columns[col]!r} = {scores.iat[row, col]!r})")
    return numeric.to_numpy(dtype=np.float64), frame["train_idx"].to_numpy(), [str(c) for c in scores.columns]


def _test_names(columns: list[str]):
    names = [c.removeprefix("z_test_") for c in columns]
    return np.array([int(n) for n in names]) if all(n.lstrip("-").isdigit() for n in names) else np.array(names)


def load_files(method: str, files: list[list[Path]], seeds: list, checkpoints: list, remake=None) -> PosteriorScores:
    """One method's score files, files[seed][checkpoint]: equal train and test items in every file, or one line
    (ending with remake(path), the command that remakes a bad file, where given)."""
    try:
        return _load_files(method, files, seeds, checkpoints)
    except BayesTDAError as error:
        named = [(str(error).find(str(p)), p) for row in files for p in row if str(p) in str(error)]
        bad = min(named, key=lambda found: found[0])[1] if named else None  # the file the message starts with
        if remake is None or bad is None:
            raise
        raise BayesTDAError(f"{error}; {remake(bad)}") from None


def _load_files(method: str, files: list[list[Path]], seeds: list, checkpoints: list) -> PosteriorScores:
    first = files[0][0]
    values0, train_idx, columns = read_score_file(first)
    values = np.empty((len(seeds), len(checkpoints), *values0.shape))
    for s, row in enumerate(tqdm(files, desc=f"loading {method}", unit="seed", leave=False)):
        for c, path in enumerate(row):
            matrix, rows, cols = (values0, train_idx, columns) if (s, c) == (0, 0) else read_score_file(path)
            if len(rows) != len(train_idx) or (rows != train_idx).any():
                raise CorruptOutput(f"{path} has other train items (train_idx) than {first}; every file of a run "
                                    "must score the same train items in the same order")
            if cols != columns:
                raise CorruptOutput(f"{path} has other test columns than {first}; every file of a run must score the "
                                    "same test items in the same order")
            values[s, c] = matrix
    return PosteriorScores(method, values, list(seeds), list(checkpoints), train_idx, _test_names(columns), columns)


def _natural_key(name: str):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def load_scores_dir(folder: Path, methods: list[str] | None = None) -> dict[str, PosteriorScores]:
    """Every method of a folder `<method>/<seed>/attribution_ckpt_<e>.csv` (any names; seeds and checkpoints in
    natural order, so that `ckpt_9` comes before `ckpt_10`), checked as a whole before anything is computed."""
    folder = Path(folder)
    layout = f"{folder}/<method>/<seed>/attribution_ckpt_<checkpoint>.csv"
    if not folder.is_dir():
        raise BadInput(f"--scores-dir {folder} is not a folder; expected {layout}")
    found = {m.name: m for m in sorted(folder.iterdir()) if m.is_dir() and any(m.glob("*/attribution_ckpt_*.csv"))}
    if not found:
        raise MissingOutput(f"no score files in {folder}; expected {layout}")
    names = methods or sorted(found)
    missing = [m for m in names if m not in found]
    if missing:
        raise MissingOutput(f"no scores of method {missing[0]!r} in {folder}; found: {', '.join(sorted(found))}")
    out = {}
    reference = None
    for method in names:
        seed_dirs = sorted((d for d in found[method].iterdir() if d.is_dir() and any(d.glob("attribution_ckpt_*.csv"))),
                           key=lambda d: _natural_key(d.name))
        if len(seed_dirs) < 2:
            raise BadInput(f"method {method!r} has scores of {len(seed_dirs)} seed ({found[method]}); the posterior "
                           "test needs at least 2 seeds")
        checkpoints = None
        files = []
        for seed_dir in seed_dirs:
            by_ckpt = {SCORE_FILE.match(p.name)["ckpt"]: p for p in seed_dir.glob("attribution_ckpt_*.csv")}
            names_here = sorted(by_ckpt, key=_natural_key)
            if checkpoints is None:
                checkpoints, first_dir = names_here, seed_dir
            elif names_here != checkpoints:
                raise CorruptOutput(f"{seed_dir} has checkpoints {', '.join(names_here)} but {first_dir} has "
                                    f"{', '.join(checkpoints)}; every seed of a method needs the same checkpoints")
            files.append([by_ckpt[c] for c in checkpoints])
        post = load_files(method, files, [d.name for d in seed_dirs], checkpoints)
        if reference is None:
            reference = post
        elif list(post.train_idx) != list(reference.train_idx) or post.test_columns != reference.test_columns:
            raise BayesTDAError(f"method {method!r} scores other train or test items than {reference.method!r} "
                                f"({files[0][0]} vs the first file of {reference.method}); methods are compared pair by pair")
        out[method] = post
    return out
