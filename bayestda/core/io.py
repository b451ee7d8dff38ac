"""Atomic file writes: a file either exists complete or not at all, so interrupted jobs lose nothing."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import signal
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import BayesTDAError

_writes = 0


def _fault_point() -> None:
    """Test hook: BAYESTDA_KILL_AT_WRITE=N kills this process with SIGKILL during its N-th atomic write, after the
    temporary file is complete and before it is renamed (the worst moment; tests/producers/test_faults.py)."""
    global _writes
    target = os.environ.get("BAYESTDA_KILL_AT_WRITE")
    if target:
        _writes += 1
        if _writes == int(target):
            os.kill(os.getpid(), signal.SIGKILL)


def process_alive(pid: int) -> bool:
    """Whether a process of this machine with that id still runs."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_dead_temporaries(path: Path) -> None:
    """Temporary files of this target left by a process that was killed mid-write (their name holds its pid)."""
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        pid = tmp.name[len(path.name) + 2 :].split(".")[0]
        if pid.isdigit() and not process_alive(int(pid)):
            tmp.unlink(missing_ok=True)


def _plain_file_mode() -> int:
    """The mode a plainly created file gets here (0o666 less the umask); mkstemp's temporary files are 0o600."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


PLAIN_FILE_MODE = _plain_file_mode()


@contextmanager
def _temporary_beside(path: Path):
    """Yield a temporary path in the target's folder; on success move it onto the target. A failed write (a full
    disk, say) removes the temporary file and becomes one line naming the file."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_dead_temporaries(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise BayesTDAError(f"cannot write {path}: {error.strerror}; fix that and rerun the same command") from None
    os.close(fd)
    try:
        yield Path(tmp)
        _fault_point()
        os.chmod(tmp, PLAIN_FILE_MODE)  # readable as any file written here, not only by its owner
        os.replace(tmp, path)
    except OSError as error:
        Path(tmp).unlink(missing_ok=True)
        raise BayesTDAError(f"cannot write {path}: {error.strerror or error}; nothing was left half-written: free "
                            "space (or fix the folder) and rerun the same command, which continues where it stopped") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call write(tmp_path), then rename the result onto path in one step."""
    with _temporary_beside(path) as tmp:
        write(tmp)


def save_json(obj: Any, path: Path) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n"))


def save_text(text: str, path: Path) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text))


def save_csv(frame, path: Path, index: bool = False) -> None:
    """Write a pandas DataFrame as CSV atomically."""
    atomic_write(path, lambda tmp: frame.to_csv(tmp, index=index))


# --- content hashes ----------------------------------------------------------------------------------------
_hashes: dict[tuple[str, int, int], str] = {}


def file_hash(path: Path) -> str:
    """sha256 of a file's bytes (cached per path, size and modification time)."""
    stat = Path(path).stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _hashes:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        _hashes[key] = digest.hexdigest()
    return _hashes[key]
