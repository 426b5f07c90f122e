"""A batch's exact gradient on several cores: training chunks on worker threads, summed in order.

Owns the per-worker training sessions and the fixed-order reduction that makes
a batch's mean gradient (MATH §7, §5) independent of the thread count: each
chunk runs alone in a reset session (deterministic), and the chunks' gradients
are added in chunk order in float64 whatever thread computed them. The chunks
and the mean run as C tasks on the runtime's own threads (train_batch,
threads: one call each, the GIL released), not handed out one by one from Python.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .train_batch import TrainBatch
from .threads import Workers


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
    """Runs batches of :class:`ChunkJob` on ``threads`` workers (None: every
    core this process may use; the calling thread is one of them; no more
    than ``batch`` when given: more would only spin), one training session per
    worker and schedule kind (with the memory frozen when ``freeze_memory``).
    Use as a context manager, or call :meth:`close`."""

    def __init__(self, model, chunk: int, threads: int | None = None, freeze_memory: bool = False,
                 batch: int | None = None):
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        self.model = model
        self.chunk = chunk
        self.freeze_memory = freeze_memory
        self.threads = threads or usable_cores()
        self._workers = Workers(min(self.threads, batch) if batch else self.threads)
        self._batches: dict[bool, TrainBatch] = {}
        self._last: TrainBatch | None = None

    @property
    def workers(self) -> Workers:
        """The pool's threads.Workers (for other C tasks of a step, e.g. the AdamW updates)."""
        return self._workers

    def _batch(self, fixed_schedule: bool) -> TrainBatch:
        if fixed_schedule not in self._batches:
            sessions = [self.model.session(max_chunk=self.chunk, max_train_tokens=self.chunk,
                                           fixed_schedule=fixed_schedule, freeze_memory=self.freeze_memory)
                        for _ in range(self._workers.count)]
            self._batches[fixed_schedule] = TrainBatch(sessions, self._workers)
        return self._batches[fixed_schedule]

    def run(self, jobs: Sequence[ChunkJob], fixed_schedule: bool = False) -> list:
        """``(loss, flat gradient)`` or a :class:`ChunkFailure` for every job, in
        job order. The gradients are views of the pool's buffers, valid until
        the next run; the jobs must share their burn-in and chunk lengths."""
        batch = self._batch(fixed_schedule)
        self._last = batch
        if not jobs:
            return []
        lengths = {(job.burn_in.size, job.inputs.size) for job in jobs}
        if len(lengths) != 1:
            raise ValueError(f"the jobs of a batch share their burn-in and chunk lengths, got {sorted(lengths)}")
        out = batch.run(np.stack([job.burn_in for job in jobs]), np.stack([job.inputs for job in jobs]),
                        np.stack([job.targets for job in jobs]))
        return [result if isinstance(result, tuple) else ChunkFailure(index, result)
                for index, result in enumerate(out)]

    def mean(self, results: Sequence[tuple[float, np.ndarray]]) -> tuple[float, np.ndarray, bool]:
        """The batch mean ``(loss, gradient)`` of the last :meth:`run`'s results
        (every chunk succeeded), and whether the gradient is all finite: losses
        added in order in float64, the gradients by the runtime's
        hecate_grads_mean order on the workers. The same bits for any thread
        count."""
        if self._last is None:
            raise ValueError("no batch has run")
        loss = 0.0
        for chunk_loss, _ in results:
            loss += chunk_loss
        mean, finite = self._last.mean()
        return loss / len(results), mean, finite

    def close(self) -> None:
        """Stop the worker threads (idempotent)."""
        self._workers.close()

    def __enter__(self) -> "GradientPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
