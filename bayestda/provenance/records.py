"""What every output was made from: a small JSON record per file, kept in its folder's hidden `.records/`.

A record names the output (`what`: its kind, experiment, seed, checkpoint, method), the inputs it was made
from (`inputs`: the data subsets' content hashes, the checkpoint's hash, the recipe and method settings that
change numbers, the code versions) and the file's own hash. An output is *current* when its file and record
exist, the file still has the recorded hash, and its inputs, recomputed from what is on disk now, equal the
recorded ones (the way make, Snakemake or DVC decide "done" from inputs, not from a file's existence).

This module knows no producer: each kind of output is declared (`declare`) by the module that writes it, with
where a record's file belongs, how its inputs are recomputed, and the file it is made from (whose staleness it
inherits). Records of bayestda 0.2 (`<file>.prov.json` beside each file) are still read, and moved into
`.records/` when the file is next recorded.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import BayesTDAError, CorruptOutput, MissingOutput, StaleOutput, UnrecordedOutput
from ..core.io import file_hash, save_json

log = logging.getLogger(__name__)

RECORDS_DIR = ".records"
LEGACY_SUFFIX = ".prov.json"  # bayestda 0.2: the record beside its file
UNRECORDED = "unrecorded (no provenance record: written by bayestda 0.1, or cut short before its record)"


def record_path(path: Path) -> Path:
    """Where the record of a file is kept: `<folder>/.records/<name>.json`."""
    path = Path(path)
    return path.parent / RECORDS_DIR / f"{path.name}.json"


def legacy_record_path(path: Path) -> Path:
    """Where bayestda 0.2 kept it: `<file>.prov.json` beside the file."""
    return Path(path).with_name(Path(path).name + LEGACY_SUFFIX)


def read(path: Path) -> dict | None:
    """The record of a file (in `.records/`, else beside it in the 0.2 layout), or None."""
    for candidate in (record_path(path), legacy_record_path(path)):
        try:
            return json.loads(candidate.read_text())
        except (OSError, ValueError):
            continue
    return None


def write(path: Path, what: dict, inputs: dict, made_with: dict | None = None) -> None:
    """Record an output just written (after the file itself: a crash between leaves it unrecorded, so not done);
    a 0.2 record beside it is removed once the new one is in place."""
    save_json({"what": what, "inputs": inputs, "made_with": made_with or {}, "sha256": file_hash(path)},
              record_path(path))
    legacy_record_path(path).unlink(missing_ok=True)


def remove(path: Path) -> None:
    """Remove a file's record (both layouts), e.g. after the file itself was removed."""
    record_path(path).unlink(missing_ok=True)
    legacy_record_path(path).unlink(missing_ok=True)


# --- kinds of output, declared by their producers -------------------------------------------------------------
@dataclass(frozen=True)
class Kind:
    """One kind of output: where a record's file belongs (None: anywhere, e.g. an analysis folder's files), how
    its inputs are recomputed from disk, and the file it is made from (its staleness is inherited)."""

    name: str
    inputs_of: Callable[[dict], dict]
    path_of: Callable[[dict], Path | None] = lambda what: None
    upstream_of: Callable[[dict], Path] | None = None


_KINDS: dict[str, Kind] = {}


def declare(kind: Kind) -> Kind:
    """Declare a kind of output (by the module that writes it); returns it."""
    _KINDS[kind.name] = kind
    return kind


def kind_of(what: dict) -> Kind:
    name = what.get("kind")
    if name not in _KINDS:
        raise CorruptOutput(f"output kind {name!r} is not declared in this process (declared: {', '.join(_KINDS)}); "
                            "the stage graph, bayestda.launch.stages, declares every kind")
    return _KINDS[name]


def problem(path: Path, expected: dict | None = None) -> BayesTDAError | None:
    """Why an output is not current, as a typed error (not raised; its message is the reason), or None.

    `expected`: the inputs to compare with, where the caller's settings differ from the declared ones (a method
    run with its own settings); default: the kind's inputs recomputed from disk.
    """
    path = Path(path)
    if not path.exists():
        return MissingOutput("missing")
    record = read(path)
    if record is None:
        return UnrecordedOutput(UNRECORDED)
    if record.get("sha256") != file_hash(path):
        return CorruptOutput("changed since it was written (its hash differs from the recorded one)")
    try:
        kind = kind_of(record["what"])
        own = kind.path_of(record["what"])
    except (BayesTDAError, KeyError) as error:
        return CorruptOutput(f"recorded for something else ({error})")
    if own is not None and own.resolve() != path.resolve():
        return CorruptOutput(f"made for {own} (copied or moved here)")
    try:
        expected = kind.inputs_of(record["what"]) if expected is None else expected
    except (BayesTDAError, KeyError) as error:
        return StaleOutput(f"its inputs cannot be read ({error})")
    if expected != record["inputs"]:
        changed = sorted(k for k in set(expected) | set(record["inputs"]) if expected.get(k) != record["inputs"].get(k))
        return StaleOutput(f"stale: made from other {', '.join(changed)} than what is on disk now")
    if kind.upstream_of is not None:
        upstream = problem(kind.upstream_of(record["what"]))
        if upstream is not None and not isinstance(upstream, UnrecordedOutput):
            return StaleOutput(f"stale: its checkpoint is {upstream}")
    return None


def is_current(path: Path) -> bool:
    return problem(path) is None
