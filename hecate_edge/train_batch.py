"""hecate_batch (hecate.h) from Python: a training batch's chunks and its mean
gradient as C tasks (hecate_batch_job, hecate_batch_mean) run by a
threads.Workers pool, one session per worker. Owns the batch's buffers (kept
between batches of one shape) and turns each job's status into a result or an
error. The math is hecate_train_chunk's (MATH §5, §7) and hecate_grads_mean's."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._lib import status_error
from .runtime import Session, _as_tokens
from .threads import Workers


class TrainBatch:
    """Batches of chunks on ``sessions`` (one per worker of ``workers``, all of
    one model, able to train chunks of the batch's length)."""

    def __init__(self, sessions: Sequence[Session], workers: Workers):
        if len(sessions) != workers.count:
            raise ValueError(f"one session per worker: {len(sessions)} sessions for {workers.count} workers")
        self._bind = sessions[0]._bind
        ffi, lib = self._bind.ffi, self._bind.lib
        self._sessions = list(sessions)  # kept alive: the C batch points at their arenas
        self._workers = workers
        self.n_params = sessions[0].model.n_params
        self._batch = ffi.new("hecate_batch *")
        self._handles = ffi.new("hecate_session *[]", [s._handle for s in sessions])
        self._batch.sessions, self._batch.n_sessions, self._batch.n_params = self._handles, len(sessions), self.n_params
        self._address = int(ffi.cast("uintptr_t", self._batch))
        self._job = int(ffi.cast("uintptr_t", lib.hecate_batch_job))
        self._mean = int(ffi.cast("uintptr_t", lib.hecate_batch_mean))
        self._shape = None
        self._kept: list = []

    def _buffers(self, n_jobs: int) -> None:
        """Gradient rows, losses and statuses for n_jobs (reused while n_jobs stays)."""
        if self._shape == n_jobs:
            return
        ffi = self._bind.ffi
        self.grads = np.empty((n_jobs, self.n_params), self._bind.dtype)
        self.losses = np.empty(n_jobs, self._bind.dtype)
        self.status = np.empty(n_jobs, np.intc)  # hecate_status: an enum of int's size
        b = self._batch
        b.grads = ffi.from_buffer("hecate_real[]", self.grads, require_writable=True)
        b.losses = ffi.from_buffer("hecate_real[]", self.losses, require_writable=True)
        b.status = ffi.cast("hecate_status *", ffi.from_buffer(self.status, require_writable=True))
        self._shape = n_jobs

    def run(self, burn_in: np.ndarray, tokens: np.ndarray, targets: np.ndarray) -> list:
        """Train row j of ``tokens`` against row j of ``targets`` (n_jobs x
        n_tokens) after feeding row j of ``burn_in`` (n_jobs x burn_len, burn_len
        may be 0), every row in a reset session. Returns per job ``(loss,
        gradient row)`` or the HecateError of its status; the rows are this
        object's buffers, valid until the next run."""
        n_jobs, n_tokens = tokens.shape
        if targets.shape != tokens.shape or burn_in.ndim != 2 or burn_in.shape[0] != n_jobs:
            raise ValueError(f"tokens {tokens.shape}, targets {targets.shape} and burn-in {burn_in.shape} "
                             "must be (n_jobs, n_tokens), (n_jobs, n_tokens) and (n_jobs, burn_len)")
        if n_jobs == 0:
            return []
        ffi = self._bind.ffi
        flat = [_as_tokens(a.reshape(-1), what) for a, what in
                ((burn_in, "burn-in tokens"), (tokens, "tokens"), (targets, "targets"))]
        self._buffers(n_jobs)
        b = self._batch
        b.n_jobs, b.burn_len, b.n_tokens = n_jobs, burn_in.shape[1], n_tokens
        self._kept = [ffi.from_buffer("uint32_t[]", a) for a in flat]
        b.burn_in, b.tokens, b.targets = self._kept
        self._workers.run(self._job, self._address, n_jobs)
        bind = self._bind
        return [(float(self.losses[j]), self.grads[j]) if self.status[j] == 0
                else status_error(bind.ffi, bind.lib, bind.status_names, int(self.status[j]))
                for j in range(n_jobs)]

    def mean(self) -> tuple[np.ndarray, bool]:
        """The float64 mean of the last run's gradient rows (every job must have
        succeeded), hecate_grads_mean's bits, its parts on the workers; and
        whether every value of it is finite."""
        if self._shape is None:
            raise ValueError("no batch has run")
        out = np.empty(self.n_params, np.float64)
        bind = self._bind
        self._batch.mean = bind.ffi.from_buffer("double[]", out, require_writable=True)
        status = self._workers.run(self._mean, self._address, -(-self.n_params // bind.lib.HECATE_BATCH_MEAN_PART))
        self._batch.mean = bind.ffi.NULL
        if status not in (0, bind.lib.HECATE_E_NONFINITE):
            raise status_error(bind.ffi, bind.lib, bind.status_names, status)
        return out, status == 0
