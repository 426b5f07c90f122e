"""The fast path of a memory level's recurrence (MATH §3, §6.1, §7): one
torch.autograd.Function per rule over the runtime's op forward and backward
(docs/OPS.md), used by HecateLM where an op runs the level and falling back to
the torch ops of hecate_edge.torch.rules otherwise.

CPU tensors run hecate_edge.ops (hecate_rule_forward / hecate_rule_backward:
the C code a session and train_chunk run; float32 or float64).  CUDA tensors
run the CUDA kernels on the tensors' device memory, no host round trip
(hecate_edge.cuda: float32; the rules, widths and retentions
hecate_cuda_rule_check accepts, period 1).  Neither takes a level with a
frequency gate (MATH §6.2), a frozen memory, a rule that owns tensors (the
SSM: the op gives no gradient for them) or, on CUDA, a block-start state
(period > 1); those run in torch.  The op's incoming state is a constant
(MATH §7), as a call's incoming state is.  Where the C runtime refuses a
non-finite result (HECATE_E_NONFINITE, D39) the op returns NaN, as the torch
ops would compute, so the trainer sees a non-finite loss and skips the step;
the CUDA kernels are queued on torch's current stream without a check or a
sync (hecate_cuda_rule_*_async), so a CUDA graph can hold them, and carry a
NaN through the same way.
"""
from __future__ import annotations

import functools

import numpy as np
import torch

from hecate_edge.reference.retention import RETENTION_IDS
from hecate_edge.reference.rules import RULES as REF_RULES
from hecate_edge.reference.rules import rule_tensor_specs


def _nan_on_refusal(call, *like):
    """call()'s result, or NaN arrays shaped as `like` where the C runtime refused a non-finite result."""
    from hecate_edge.errors import HecateError
    from hecate_edge.nonfinite import is_nonfinite_error

    try:
        return call()
    except HecateError as err:
        if not is_nonfinite_error(err):
            raise
        return tuple(np.full_like(a, np.nan) for a in like)


def _rule_params(spec) -> dict:
    return {name: spec.hp[name] for name in REF_RULES[spec.rule_name].PARAM_NAMES}


def _c_spec(spec, d: int, position: int) -> dict:
    """The hecate_rule_spec fields of a level (hecate.h)."""
    ref = REF_RULES[spec.rule_name]
    values = [spec.hp[name] for name in ref.PARAM_NAMES]
    return {"rule": ref.RULE_ID, "d": d, "params": values + [0.0] * (8 - len(values)),
            "retention": RETENTION_IDS[spec.hp["retention"]], "retention_param": spec.hp["lambda_1"],
            "period": spec.period, "position": position}


def _level_spec(rule_id: int, d: int, params: tuple, retention: int, retention_param: float) -> dict:
    """The C spec dict of a per-token level (period 1) for the CUDA checks."""
    return {"rule": rule_id, "d": d, "params": list(params), "retention": retention,
            "retention_param": retention_param, "period": 1, "position": 0}


@functools.lru_cache(maxsize=64)
def _cuda_runs(*level) -> bool:
    from hecate_edge import cuda

    return cuda.rule_runs(_level_spec(*level))


@functools.lru_cache(maxsize=64)
def _cuda_chunked(*level) -> bool:
    from hecate_edge import cuda

    return cuda.chunked_runs(_level_spec(*level))


def runs(spec, x: torch.Tensor) -> bool:
    """Whether an op runs this level for input x (device, dtype, rule)."""
    ref = REF_RULES[spec.rule_name]
    if rule_tensor_specs(ref, x.shape[-1], spec.hp):
        return False
    if x.device.type == "cpu":
        return x.dtype in (torch.float32, torch.float64)
    if x.device.type != "cuda" or x.dtype != torch.float32 or spec.period != 1 or "x" in spec.extra:
        return False
    c = _c_spec(spec, x.shape[-1], 0)
    return _cuda_runs(c["rule"], c["d"], tuple(c["params"]), c["retention"], c["retention_param"])


def recurrence(spec, km, vm, qm, gates: dict, xs, memory, at, position: int):
    """(y (B, T, d), memory', at') of the level's recurrence from (memory, at), by the op."""
    if memory.requires_grad or at.requires_grad:
        raise ValueError("the op path takes a constant incoming state (MATH §7)")
    names = [name for name, _ in spec.gate_kinds]
    state = torch.stack([memory, at], 1) if spec.period > 1 else memory
    fn = _CudaRule if km.is_cuda else _CpuRule
    y, final = fn.apply(spec, position, state, km, vm, qm, xs, *[gates[n] for n in names])
    if spec.period > 1:
        return y, final[:, 0], final[:, 1]
    return y, final, final


class _CpuRule(torch.autograd.Function):
    """hecate_edge.ops.run / ops.backward over (B, 1 head, T, d) arrays."""

    @staticmethod
    def forward(ctx, spec, position, state, k, v, q, x, *gates):
        from hecate_edge import ops

        names = [name for name, _ in spec.gate_kinds]
        arrays = [a.detach().numpy()[:, None] for a in (q, k, v)]
        g = {name: value.detach().numpy()[:, None] for name, value in zip(names, gates)}
        call = dict(initial_state=state.detach().numpy()[:, None], params=_rule_params(spec),
                    retention=spec.hp["retention"], lambda_1=spec.hp["lambda_1"],
                    x=None if x is None else x.detach().numpy()[:, None], period=spec.period, position=position)
        y, final = _nan_on_refusal(lambda: ops.run(spec.rule_name, *arrays, g, **call), arrays[0],
                                   call["initial_state"])
        ctx.saved = (spec, arrays, g, call, x is not None)
        final = torch.from_numpy(final[:, 0])
        ctx.mark_non_differentiable(final)
        return torch.from_numpy(y[:, 0]), final

    @staticmethod
    def backward(ctx, dy, _dfinal):
        from hecate_edge import ops

        spec, arrays, g, call, has_x = ctx.saved
        names = ["q", "k", "v", *g] + (["x"] if has_x else [])
        like = [*arrays, *g.values()] + ([call["x"]] if has_x else [])

        def run():
            grads = ops.backward(spec.rule_name, *arrays, g, np.ascontiguousarray(dy.numpy()[:, None]), **call)
            return tuple(grads[n] for n in names)
        grads = dict(zip(names, _nan_on_refusal(run, *like)))
        out = [torch.from_numpy(grads[n][:, 0]) for n in ("k", "v", "q")]
        dx = torch.from_numpy(grads["x"][:, 0]) if has_x else None
        return (None, None, None, *out, dx, *[torch.from_numpy(grads[name][:, 0]) for name, _ in spec.gate_kinds])


def _queue(fn, spec: dict, n_seq: int, T: int, tensors: tuple) -> None:
    """fn(spec, n_seq, T, the tensors' data pointers..., torch's current stream on their device)."""
    fn(spec, n_seq, T, *(t.data_ptr() for t in tensors), torch.cuda.current_stream(tensors[0].device).cuda_stream)


class _CudaRule(torch.autograd.Function):
    """The CUDA kernels on the tensors' device memory, queued on torch's stream (hecate_cuda_rule_*_async):
    the chunked forward and backward where they run (delta, hebbian; faster than the token-by-token
    kernels at every measured training shape, equal to float32 rounding: DECISIONS D75), the
    token-by-token ones otherwise."""

    @staticmethod
    def forward(ctx, spec, position, state, k, v, q, x, *gates):
        from hecate_edge import cuda

        B, T, d = k.shape
        k, v, q = (a.detach().contiguous() for a in (k, v, q))
        g = torch.stack([a.detach() for a in gates], -1).contiguous()
        state0 = state.detach().reshape(B, -1).contiguous()
        final = state0.clone()
        y = torch.empty_like(q)
        c = _c_spec(spec, d, position)
        chunked = _cuda_chunked(c["rule"], d, tuple(c["params"]), c["retention"], c["retention_param"])
        _queue(functools.partial(cuda.rule_forward_device, chunked=chunked), c, B, T, (k, v, q, g, final, y))
        ctx.save_for_backward(k, v, q, g, state0)
        ctx.c_spec, ctx.chunked = c, chunked
        final = final.reshape(state.shape)
        ctx.mark_non_differentiable(final)
        return y, final

    @staticmethod
    def backward(ctx, dy, _dfinal):
        from hecate_edge import cuda

        k, v, q, g, state0 = ctx.saved_tensors
        B, T, d = k.shape
        dy = dy.contiguous()
        dk, dv, dq, dg = (torch.empty_like(a) for a in (k, v, q, g))
        work = torch.empty(max(cuda.rule_backward_len(ctx.c_spec, B, T, ctx.chunked), 1), dtype=torch.float32,
                           device=k.device)
        _queue(functools.partial(cuda.rule_backward_device, chunked=ctx.chunked), ctx.c_spec, B, T,
               (k, v, q, g, state0, dy, dk, dv, dq, dg, work))
        return (None, None, None, dk, dv, dq, None, *dg.unbind(-1))
