"""Run independent pieces of work (models, chunks) on CPU threads, one torch thread each.

On a small CPU single-threaded workers beat torch's intra-op threading on these small CNNs (measured:
docs/speed.md).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing import get_context
from typing import TypeVar

import torch
from torch import nn
from tqdm import tqdm

T = TypeVar("T")
R = TypeVar("R")


def default_workers(device: torch.device | str = "cpu") -> int:
    """One worker per torch CPU thread on CPU; a single worker on accelerators."""
    return torch.get_num_threads() if torch.device(device).type == "cpu" else 1


def _single_threaded() -> None:
    torch.set_num_threads(1)


def thread_map(fn: Callable[[T], R], items: Iterable[T], workers: int) -> list[R]:
    """[fn(item) for item in items], spread over `workers` threads (in order)."""
    items = list(items)
    if workers <= 1 or len(items) <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(workers, initializer=_single_threaded) as pool:
        return list(pool.map(fn, items))


def map_groups(fn: Callable[[nn.Module, list[T]], list[R]], net: nn.Module, items: Iterable[T], workers: int) -> list[R]:
    """fn(net_copy, group) over contiguous groups of items, one private copy of `net` per thread.

    torch.func.functional_call swaps a module's parameters in place, so threads must never share one.
    """
    items = list(items)
    if workers <= 1 or len(items) <= 1:
        return fn(net, items)
    groups = split(items, workers)
    jobs = [(copy.deepcopy(net), group) for group in groups]
    results = thread_map(lambda job: fn(*job), jobs, len(jobs))
    return [r for part in results for r in part]


def in_background(fn: Callable[[], R]) -> Future[R]:
    """fn() started on its own single-threaded CPU thread (work that scales poorly over intra-op threads,
    overlapped with work that keeps the cores busy); .result() waits for it."""
    pool = ThreadPoolExecutor(1, initializer=_single_threaded)
    future = pool.submit(fn)
    pool.shutdown(wait=False)
    return future


def split(items: list[T], parts: int) -> list[list[T]]:
    """Contiguous, nearly equal parts (no empty ones)."""
    parts = max(1, min(parts, len(items)))
    size, extra = divmod(len(items), parts)
    out, start = [], 0
    for i in range(parts):
        end = start + size + (1 if i < extra else 0)
        out.append(items[start:end])
        start = end
    return out


def _with_threads(job: tuple[Callable, int, object]):
    fn, threads, item = job
    torch.set_num_threads(threads)
    return fn(item)


def process_map(fn: Callable[[T], R], items: list[T], jobs: int, desc: str, unit: str = "seed") -> list[R]:
    """fn(item) for every item, in `jobs` spawned processes with an even share of the torch threads each (seeds
    of an ensemble: faster than threads on the CPU, docs/speed.md), under one progress bar; fn must be module-level."""
    if jobs <= 1 or len(items) <= 1:
        return [fn(item) for item in tqdm(items, desc=desc, unit=unit)]
    threads = max(1, torch.get_num_threads() // jobs)
    work = [(fn, threads, item) for item in items]
    with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
        return list(tqdm(pool.map(_with_threads, work), total=len(work), desc=f"{desc} ({jobs} processes)", unit=unit))
