"""A batch's exact gradient on several cores: training chunks on worker threads, summed in order.

Owns the per-thread training sessions and the fixed-order reduction that makes
a batch's mean gradient (MATH §7, §5) independent of the thread count: each
chunk runs alone in a reset session (deterministic), and the chunks' gradients
are added in chunk order in float64 whatever thread computed them (each thread
a range of the elements). The C calls release the GIL (cffi does so for every
call), so the chunks, the mean's ranges and per-tensor updates (``map``) run
in parallel.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

# fewest elements of the batch mean worth handing to one more thread
_MIN_RANGE = 4096


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity where the OS has
    one (taskset, container cpusets), else every core of the machine."""
    if hasattr(os, "process_cpu_count"):  # Python 3.13
        return os.process_cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


@dataclass(frozen=True)
class ChunkJob:
    """One training chunk: ``burn_in`` tokens fed without gradient (may be
    empty), then ``inputs`` trained against ``targets``."""

    burn_in: np.ndarray
    inputs: np.ndarray
    targets: np.ndarray


@dataclass
class ChunkFailure:
    """A chunk whose training call raised: its batch index and the error."""

    index: int
    error: BaseException


class GradientPool:
    """Runs batches of :class:`ChunkJob` on ``threads`` worker threads
    (None: every core this process may use), one training session per thread and schedule kind
    (with the memory frozen when ``freeze_memory``).
    Use as a context manager, or call :meth:`close`."""

    def __init__(self, model, chunk: int, threads: int | None = None, freeze_memory: bool = False):
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        self.model = model
        self.chunk = chunk
        self.freeze_memory = freeze_memory
        self.threads = threads or usable_cores()
        self._sessions: list[dict[bool, object]] = [{} for _ in range(self.threads)]
        # per batch index, the chunk's gradient buffer, reused by every run (so the mean's
        # pointers are bound once); and the batch mean's float64 buffer
        self._grads: list[np.ndarray] = []
        self._mean = np.empty(model.n_params, np.float64)
        self._mean_of: tuple[list[np.ndarray], object] | None = None  # (the buffers, their GradsMean)
        # the calling thread is worker 0: one thread fewer to wake and wait for per batch
        self._executor = ThreadPoolExecutor(self.threads - 1, "hecate-train") if self.threads > 1 else None

    def _session(self, worker: int, fixed_schedule: bool):
        sessions = self._sessions[worker]
        if fixed_schedule not in sessions:
            sessions[fixed_schedule] = self.model.session(
                max_chunk=self.chunk, max_train_tokens=self.chunk, fixed_schedule=fixed_schedule,
                freeze_memory=self.freeze_memory)
        return sessions[fixed_schedule]

    def _run_worker(self, worker: int, stride: int, jobs: Sequence[ChunkJob], fixed_schedule: bool,
                    out: list) -> None:
        """Jobs worker, worker + stride, ... on the worker's own session."""
        session = self._session(worker, fixed_schedule)
        for index in range(worker, len(jobs), stride):
            job = jobs[index]
            try:
                session.reset()
                if job.burn_in.size:
                    session.process(job.burn_in, want_logits=False)
                out[index] = session.train_chunk(job.inputs, job.targets, out=self._grads[index])
            except Exception as exc:  # reported per chunk; the batch decides what to do
                out[index] = ChunkFailure(index, exc)

    def run(self, jobs: Sequence[ChunkJob], fixed_schedule: bool = False) -> list:
        """``(loss, flat gradient)`` or a :class:`ChunkFailure` for every job, in job order.
        The gradient arrays are the pool's buffers: the next ``run`` overwrites them."""
        while len(self._grads) < len(jobs):
            self._grads.append(np.empty(self.model.n_params, self.model.dtype))
        out: list = [None] * len(jobs)
        self._on_workers(len(jobs), lambda w, stride: self._run_worker(w, stride, jobs, fixed_schedule, out))
        return out

    def map(self, fn: Callable[[object], None], items: Sequence) -> None:
        """``fn(item)`` for every item, items spread over the workers (round robin); for
        work whose result does not depend on which thread does it or in which order."""
        def run(worker: int, stride: int) -> None:
            for item in items[worker::stride]:
                fn(item)

        self._on_workers(len(items), run)

    def mean(self, results: Sequence[tuple[float, np.ndarray]]) -> tuple[float, np.ndarray, bool]:
        """The batch mean ``(loss, gradient, all finite)`` of the results of the last
        ``run`` (every one a ``(loss, gradient)``): the losses and, per element, the
        gradients added in chunk order in float64 (hecate_grads_mean), each worker a range
        of the elements: the same bits for any thread count. The gradient is the pool's
        buffer: the next ``mean`` overwrites it."""
        grads = [g for _, g in results]
        if self._mean_of is None or len(grads) != len(self._mean_of[0]) or \
                any(g is not bound for g, bound in zip(grads, self._mean_of[0])):
            from hecate_edge.runtime import GradsMean

            self._mean_of = (grads, GradsMean(grads, self._mean))  # bound to these buffers
        mean_range = self._mean_of[1]
        n = self._mean.size
        parts = min(self.threads, max(1, n // _MIN_RANGE))
        bounds = [n * i // parts for i in range(parts + 1)]
        finite = [True] * parts

        def part(i: int) -> None:
            mean_range(bounds[i], bounds[i + 1])
            finite[i] = bool(np.isfinite(self._mean[bounds[i]:bounds[i + 1]]).all())

        self.map(part, range(parts))
        loss = 0.0
        for chunk_loss, _ in results:
            loss += chunk_loss
        loss /= len(results)
        return loss, self._mean, all(finite) and math.isfinite(loss)

    def _on_workers(self, n_items: int, work: Callable[[int, int], None]) -> None:
        """``work(worker, stride)`` on min(threads, n_items) workers, the calling thread
        being worker 0; returns when all are done (re-raising a worker's exception)."""
        workers = min(self.threads, n_items)
        if self._executor is None or workers <= 1:
            work(0, 1)
            return
        futures = [self._executor.submit(work, w, workers) for w in range(1, workers)]
        work(0, workers)
        for future in futures:
            future.result()

    def close(self) -> None:
        """Stop the worker threads (idempotent)."""
        if self._executor is not None:
            self._executor.shutdown()
            self._executor = None

    def __enter__(self) -> "GradientPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
