"""What went non-finite in a failed training step, in words a user can act on.

Owns the diagnosis run after a training chunk fails with HECATE_E_NONFINITE:
replays the chunk on a fresh session to find the first token whose forward
pass (MATH §3-§4) overflows and the memory levels' sizes just before it, or,
when the forward is finite, the tensors whose gradients (MATH §7) are not.
"""

from __future__ import annotations

import numpy as np

from hecate_edge.grad_pool import ChunkJob


class NonFiniteTraining(RuntimeError):
    """Training stopped at ``step`` (1-based) because a step went non-finite;
    the model holds the last good weights. ``detail`` says what failed."""

    def __init__(self, step: int, detail: str):
        super().__init__(f"step {step}: {detail}")
        self.step = step
        self.detail = detail

    def __reduce__(self):  # so it crosses process boundaries (eval jobs) intact
        return type(self), (self.step, self.detail)


def is_nonfinite_error(error: BaseException) -> bool:
    """True for the runtime's "a computation produced NaN/Inf" status."""
    return getattr(error, "name", None) == "HECATE_E_NONFINITE"


def diagnose(model, job: ChunkJob, fixed_schedule: bool = False, freeze_memory: bool = False) -> str:
    """One line naming where ``job`` goes non-finite on ``model``'s weights, replayed in a
    session of the kind that trained it (schedule, frozen memory)."""
    cfg = model.config
    session = model.session(max_chunk=max(len(job.inputs), 1), max_train_tokens=len(job.inputs),
                            fixed_schedule=fixed_schedule, freeze_memory=freeze_memory)
    if job.burn_in.size:
        try:
            session.process(job.burn_in, want_logits=False)
        except Exception as exc:  # noqa: BLE001 - reported, not handled
            return f"the burn-in before the chunk went non-finite ({_name(exc)})"
    blob = session.save_state()
    for t, token in enumerate(job.inputs):
        sizes = _memory_sizes(session, cfg)
        try:
            session.step(int(token))
        except Exception as exc:  # noqa: BLE001
            return (f"the forward pass went non-finite at token {t} of the chunk ({_name(exc)}); "
                    f"largest |memory| just before it: {sizes}")
    session.load_state(blob)
    grads = np.zeros(model.n_params, dtype=model.dtype)
    try:
        session.train_chunk(job.inputs, job.targets, out=grads)
    except Exception as exc:  # noqa: BLE001
        bad = nonfinite_gradients(model, grads)
        if bad:
            return f"the backward pass gave non-finite gradients for {', '.join(bad)} ({_name(exc)})"
        return f"the training call failed with a finite forward and finite gradients ({_name(exc)})"
    return "the chunk trains finitely when replayed alone (the failure did not reproduce)"


def nonfinite_gradients(model, grads: np.ndarray) -> list[str]:
    """Names of the tensors whose part of the flat gradient ``grads`` is not finite."""
    return [name for name, g in model.split_grads(grads).items() if not np.isfinite(g).all()]


def _memory_sizes(session, cfg) -> str:
    parts = []
    for layer in range(cfg.n_layers):
        for level in range(cfg.n_levels):
            value = float(np.max(np.abs(session.memory(level, layer)), initial=0.0))
            parts.append(f"blk{layer}.mem{level} {value:.3g}")
    return ", ".join(parts)


def _name(error: BaseException) -> str:
    return getattr(error, "name", None) or type(error).__name__
