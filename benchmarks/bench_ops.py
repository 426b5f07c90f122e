"""hecate_edge.ops per-call cost (issue #19, benchmarks/RESULTS.md §8): the
delta op at the small shape where Python overhead dominates (B = 1, H = 4,
T = 16, D = 16: ggml's gated-delta-net test shape) and at one token of width
1, where the call is nothing but overhead; side by side with the float32 numpy
loop a caller would write otherwise (MATH §3.1 delta rule, token by token) and
with the runtime call alone (c_call_only: hecate_rule_forward_batch through
cffi on buffers wrapped once), so that hecate_c minus c_call_only is the
Python side's share of a call."""
import numpy as np
import pytest
from conftest import SEED

from hecate_edge import ops
from hecate_edge._lib import load_library
from hecate_edge.reference.rules import RULES

SHAPES = {"B=1 H=4 T=16 D=16": (1, 4, 16, 16), "B=1 H=1 T=1 D=1": (1, 1, 1, 1)}


def _inputs(B, H, T, D):
    rng = np.random.default_rng(SEED)
    q, k, v = (rng.normal(size=(B, H, T, D)).astype(np.float32) for _ in range(3))
    k /= np.linalg.norm(k, axis=-1, keepdims=True)
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    alpha, theta = (np.full((B, H, T), value, np.float32) for value in (0.05, 0.5))
    return q, k, v, alpha, theta


def _numpy_delta(q, k, v, alpha, theta):
    """S' = (1 - alpha) S - theta (S k - v) k^T, o = S' q, per (batch, head), token by token."""
    B, H, T, D = q.shape
    out = np.empty_like(q)
    for b in range(B):
        for h in range(H):
            s = np.zeros((D, D), np.float32)
            for t in range(T):
                kt = k[b, h, t]
                s = (1 - alpha[b, h, t]) * s - theta[b, h, t] * np.outer(s @ kt - v[b, h, t], kt)
                out[b, h, t] = s @ q[b, h, t]
    return out


IMPLEMENTATIONS = {
    "hecate_c": lambda q, k, v, a, th: ops.delta(q, k, v, alpha=a, theta=th)[0],
    "numpy_loop": _numpy_delta,
}


@pytest.mark.parametrize("impl", sorted(IMPLEMENTATIONS))
@pytest.mark.parametrize("shape", sorted(SHAPES))
def bench_delta_op(benchmark, shape, impl):
    args = _inputs(*SHAPES[shape])
    benchmark.group = f"ops.delta {shape}"
    B, H, T, D = SHAPES[shape]
    benchmark.extra_info.update(implementation=impl, kind="forward", d_model=D, tokens_per_call=B * H * T)
    benchmark(IMPLEMENTATIONS[impl], *args)


def _c_call_only(q, k, v, alpha, theta):
    """hecate_rule_forward_batch on k, v, q, the stacked gates, a state, an output
    and a scratch wrapped once: a call that runs what ops.delta's call runs (the
    state carries over from call to call, which the delta rule's cost ignores)."""
    binding = load_library("f32")
    ffi, lib = binding.ffi, binding.lib
    B, H, T, D = q.shape
    spec = ffi.new("hecate_rule_spec *", {"rule": RULES["delta"].RULE_ID, "d": D, "params": [], "period": 1})
    sizes = [ffi.new("uint32_t *"), ffi.new("size_t *"), ffi.new("size_t *")]
    assert lib.hecate_rule_shape(spec, *sizes) == 0
    gates, state = np.stack([alpha, theta], axis=-1), np.zeros(B * H * sizes[1][0], np.float32)
    arrays = [k, v, q, gates, state, np.empty_like(q), np.empty(max(sizes[2][0], 1), np.float32)]
    kp, vp, qp, gp, sp, yp, scratch = (ffi.from_buffer("hecate_real[]", a) for a in arrays)
    return lambda: lib.hecate_rule_forward_batch(spec, B * H, T, kp, vp, qp, ffi.NULL, gp, ffi.NULL, sp, yp, scratch)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def bench_delta_c_call_only(benchmark, shape):
    call = _c_call_only(*_inputs(*SHAPES[shape]))
    benchmark.group = f"ops.delta {shape}"
    B, H, T, D = SHAPES[shape]
    benchmark.extra_info.update(implementation="c_call_only", kind="forward", d_model=D, tokens_per_call=B * H * T)
    assert call() == 0
    benchmark(call)
