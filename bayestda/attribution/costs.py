"""What each method costs at one checkpoint when methods share their gradients: a ledger of wall seconds.

A shared computation (a cache key of the checkpoint context) is timed once, exclusive of the shared computations it
asked for itself, and remembers those. A method's cost is its own time plus the time of every shared computation
it used, directly or through another, whichever method made it first: what the method would take on its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Cost:
    """A measured piece of work: its own seconds and the shared computations it used ({key: seconds})."""

    own: float = 0.0
    used: dict[str, float] = field(default_factory=dict)

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.own + other.own, {**self.used, **other.used})

    @property
    def seconds(self) -> float:
        return self.own + sum(self.used.values())


@dataclass
class _Frame:
    nested: float = 0.0  # seconds of shared computations made inside this frame
    used: set[str] = field(default_factory=set)


class CostLedger:
    """Seconds and dependencies of a context's shared computations, and the frames of the work timed now."""

    def __init__(self, seconds: dict[str, float] | None = None, deps: dict[str, set[str]] | None = None) -> None:
        self.seconds = dict(seconds or {})
        self.deps = {k: set(v) for k, v in (deps or {}).items()}
        self._frames: list[_Frame] = []

    def copy(self) -> CostLedger:
        """What is known so far, without the frames in progress (for a context on another thread)."""
        return CostLedger(self.seconds, self.deps)

    def use(self, key: str) -> None:
        if self._frames:
            self._frames[-1].used |= {key} | self.deps.get(key, set())

    def _timed(self, work: Callable[[], object]) -> tuple[object, float, _Frame]:
        frame = _Frame()
        self._frames.append(frame)
        start = time.perf_counter()
        try:
            value = work()
        finally:
            total = time.perf_counter() - start
            self._frames.pop()
            if self._frames:
                self._frames[-1].nested += total
        return value, total, frame

    def compute(self, key: str, work: Callable[[], object]) -> object:
        """work() timed as the shared computation `key` (exclusive of the shared computations inside it)."""
        value, total, frame = self._timed(work)
        self.seconds[key] = total - frame.nested
        self.deps[key] = frame.used
        self.use(key)
        return value

    def measure(self, work: Callable[[], object]) -> tuple[object, Cost]:
        """(work(), its cost): own seconds and every shared computation it used."""
        value, total, frame = self._timed(work)
        used = {key: self.seconds[key] for key in frame.used if key in self.seconds}
        return value, Cost(total - frame.nested, used)
