"""A batch's exact gradient on several cores: training chunks on worker threads, summed in order.

Owns the per-thread training sessions and the fixed-order reduction that makes
a batch's mean gradient (MATH §7, §5) independent of the thread count: each
chunk runs alone in a reset session (deterministic), and the chunks' gradients
are added in chunk order in float64 whatever thread computed them. The C calls
release the GIL (cffi does so for every call), so the chunks run in parallel.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np


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
                out[index] = session.train_chunk(job.inputs, job.targets)
            except Exception as exc:  # reported per chunk; the batch decides what to do
                out[index] = ChunkFailure(index, exc)

    def run(self, jobs: Sequence[ChunkJob], fixed_schedule: bool = False) -> list:
        """``(loss, flat gradient)`` or a :class:`ChunkFailure` for every job, in job order."""
        out: list = [None] * len(jobs)
        workers = min(self.threads, len(jobs))
        if self._executor is None or workers == 1:
            self._run_worker(0, 1, jobs, fixed_schedule, out)
        else:
            futures = [self._executor.submit(self._run_worker, w, workers, jobs, fixed_schedule, out)
                       for w in range(1, workers)]
            self._run_worker(0, workers, jobs, fixed_schedule, out)
            for future in futures:
                future.result()
        return out

    def close(self) -> None:
        """Stop the worker threads (idempotent)."""
        if self._executor is not None:
            self._executor.shutdown()
            self._executor = None

    def __enter__(self) -> "GradientPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def mean_of(results: Sequence[tuple[float, np.ndarray]]) -> tuple[float, np.ndarray]:
    """The batch mean ``(loss, gradient)`` of per-chunk results, added in
    order in float64 (the runtime's hecate_grads_mean for the gradients):
    the same bits for any thread count."""
    from hecate_edge.runtime import grads_mean

    loss = 0.0
    for chunk_loss, _ in results:
        loss += chunk_loss
    return loss / len(results), grads_mean([grads for _, grads in results])
