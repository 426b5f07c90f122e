"""A batch of sessions of one model fed together, on a chosen backend:
"cpu" (CpuSessionBatch: one C runtime Session per member) or "cuda"
(hecate_edge.cuda.CudaSessionBatch, docs/CUDA.md).  Both take tokens as
(n_sessions, T) and return logits (n_sessions, T, vocab), so a batch can be
moved between backends and the two compared (tests/test_cuda.py).
"""
from __future__ import annotations

import numpy as np

from hecate_edge._lib import check_backend


class CpuSessionBatch:
    """n_sessions C runtime sessions behind the batch interface."""

    def __init__(self, model, n_sessions: int, max_chunk: int = 64):
        self.n_sessions = int(n_sessions)
        self._sessions = [model.session(max_chunk=max_chunk) for _ in range(self.n_sessions)]

    def process(self, tokens, want_logits: bool = True):
        """Feed tokens (n_sessions, T) to every session; logits (n_sessions, T, vocab) or None."""
        tokens = np.asarray(tokens)
        if tokens.ndim != 2 or tokens.shape[0] != self.n_sessions:
            raise ValueError(f"tokens must have shape ({self.n_sessions}, T), got {tokens.shape}")
        out = [s.process(row, want_logits=want_logits) for s, row in zip(self._sessions, tokens)]
        return np.stack(out) if want_logits else None

    def reset(self, session: int | None = None) -> None:
        """Reset one session (index) or all (None)."""
        for s in self._sessions if session is None else [self._sessions[session]]:
            s.reset()

    def memory(self, session: int) -> np.ndarray:
        """A copy of session `session`'s memory state."""
        return np.array(self._sessions[session].memory())

    def position(self, session: int) -> int:
        """Tokens session `session` consumed since its last reset."""
        return self._sessions[session].position


def session_batch(model, n_sessions: int, backend: str = "cpu", max_chunk: int = 64):
    """n_sessions fresh sessions of `model` (a runtime.Model) on `backend` ("cpu" or "cuda")."""
    check_backend(backend, ("cpu", "cuda"))
    if backend == "cuda":
        from hecate_edge.cuda import CudaSessionBatch

        return CudaSessionBatch(model, n_sessions, max_chunk=max_chunk)
    return CpuSessionBatch(model, n_sessions, max_chunk=max_chunk)
