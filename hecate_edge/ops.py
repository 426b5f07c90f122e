"""Low-level ops: one memory rule's recurrence on (batch, heads, time, dim)
arrays, run by the C runtime (docs/OPS.md).

Every rule of the registry is an op of the same name::

    o, final_state = hecate_edge.ops.delta(q, k, v, alpha=alpha, theta=theta)

q, k, v: (B, H, T, D) float32 or float64 (the dtype picks the runtime build);
each gate: (B, H, T), its value after the activation (MATH §3.1); no
normalization is applied (normalize q and k yourself for the matrix rules).
initial_state: (B, H, *state shape) or None for the rule's own init state.
params: {name: value} of the rule's hyper-parameters (its PARAM_NAMES, e.g.
d_hidden of the MLP rules); those not given take the rule's defaults.
tensors: {name: array} of the rule's own parameter tensors (the selective
SSM's A_log (D, N) and dt_bias (D)), shared by every batch and head; None or
missing names: the rule's init.
x: (B, H, T, D), the level input Trellis compresses (None: x = k; the
other rules ignore it).
retention, lambda_1: the retention by name (MATH §4; None: the rule's
default) and the elastic net's lambda_1 (None: its default).
backend: "cpu" (default, the C runtime), "cuda" (libhecate_cuda: float32,
the delta, titans, hebbian and atlas rules, period 1; docs/CUDA.md) or
"cuda-chunk" (its chunked forward and backward: delta and hebbian, the same
results up to float32 rounding, faster on long sequences).
period, position: a CMS level (MATH §6.1): with period C > 1 the memory
writes at the end of every block of C tokens (global index n = position + t
fires when (n + 1) mod C == 0), every inner gradient of the block taken at
its block-start state, and the tokens that do not fire read that state; the
state is then (B, H, 2, *state shape): the accumulated state and the
block-start state.
Returns o (B, H, T, D) with o_t the read after token t's write, and the final
state (B, H, *state shape), or None when output_final_state is False.
backward(rule, q, k, v, gates, dy, ...) returns the gradients of sum(o * dy).
"""
from __future__ import annotations

import functools
import threading
from typing import NamedTuple

import numpy as np

from hecate_edge._lib import Binding, check, check_backend, load_library
from hecate_edge.reference.retention import RETENTION_IDS
from hecate_edge.reference.retention import resolve as resolve_retention
from hecate_edge.reference.rules import RULES, resolve_params, rule_tensor_specs

_PRECISION = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}


class _Layout(NamedTuple):
    """What one op configuration (rule, D, hyper-parameters, retention, CMS
    clock, dtype) needs, checked against the runtime once and cached."""
    spec: dict            # hecate_rule_spec fields
    c_spec: object        # the same as a cffi struct
    state_shape: tuple    # per (batch, head)
    init: np.ndarray      # the runtime's initial state (read-only template)
    scratch_len: int      # scalars of scratch hecate_rule_forward needs (at least 1)
    hp: dict              # hyper-parameters by name
    has_tensors: bool     # the rule owns parameter tensors (rule_tensor_specs)
    gate_names: tuple     # the rule's gates in the runtime's order
    binding: Binding      # the runtime build of the dtype
    wrap: object          # array -> a hecate_real[] over its data (ffi.from_buffer: no copy, C-contiguous only)


class _Call(NamedTuple):
    """One op call, checked: its layout and the arrays as the runtime takes them."""
    layout: _Layout
    arrays: list        # k, v, q, x (None: x = k), gates (B, H, T, ...) contiguous in the call's dtype
    state: np.ndarray   # (B, H, *state shape): the incoming state (a copy)
    tensors: list       # the rule's own tensors, file order

    @property
    def spec(self) -> dict:
        return self.layout.spec

    @property
    def dtype(self) -> np.dtype:
        return self.layout.binding.dtype


@functools.lru_cache(maxsize=256)
def _layout(rule: str, D: int, params: tuple, retention: str | None, lambda_1: float | None, period: int,
            position: int, precision: str) -> _Layout:
    """The checked layout of one configuration (see _Layout), `params` as
    sorted (name, value) pairs over the rule's defaults; the runtime must
    agree with the reference on the state and tensor sizes."""
    module = RULES[rule]
    values = tuple(resolve_params(module, D, dict(params)))
    retention, lambda_1 = resolve_retention(module, retention, lambda_1)
    hp = dict(zip(module.PARAM_NAMES, values))
    state_shape = module.init_state(D, hp).shape
    if period > 1:  # MATH §6.1: the accumulated state, then the block-start state
        state_shape = (2, *state_shape)
    spec = {"rule": module.RULE_ID, "d": D, "params": list(values), "retention": RETENTION_IDS[retention],
            "retention_param": lambda_1, "period": period, "position": position}
    binding = load_library(precision)
    ffi, lib = binding.ffi, binding.lib
    c_spec = ffi.new("hecate_rule_spec *", spec)
    shape = [ffi.new("uint32_t *"), ffi.new("size_t *"), ffi.new("size_t *")]
    check(binding, lib.hecate_rule_shape(c_spec, *shape))
    if shape[1][0] != int(np.prod(state_shape)):
        raise RuntimeError(f"{rule}: the runtime's state has {shape[1][0]} scalars, the reference's "
                           f"{state_shape}; library and package are out of step")
    for index, (name, tensor_shape) in enumerate(rule_tensor_specs(module, D, hp)):
        length = ffi.new("size_t *")
        check(binding, lib.hecate_rule_tensor_len(c_spec, index, length))
        if length[0] != int(np.prod(tensor_shape)):
            raise RuntimeError(f"{rule}: tensor {name} has {length[0]} scalars in the runtime, {tensor_shape} "
                               f"in the reference; library and package are out of step")
    wrap = functools.partial(ffi.from_buffer, ffi.typeof("hecate_real[]"))
    init = np.empty(state_shape, binding.dtype)
    check(binding, lib.hecate_rule_init(c_spec, wrap(init)))
    init.flags.writeable = False
    return _Layout(spec, c_spec, state_shape, init, max(int(shape[2][0]), 1), hp,
                   bool(rule_tensor_specs(module, D, hp)), tuple(name for name, _ in module.GATES), binding, wrap)


def _prepare(rule: str, q, k, v, gates: dict, initial_state, params, retention, lambda_1, x, tensors,
             period: int = 1, position: int = 0) -> _Call:
    module = RULES.get(rule)
    if module is None:
        raise ValueError(f"unknown memory rule {rule!r} (known: {sorted(RULES)})")
    q, k, v = np.asarray(q), np.asarray(k), np.asarray(v)
    if q.ndim != 4 or q.shape != k.shape or q.shape != v.shape:
        raise ValueError(f"q, k, v must share one (B, H, T, D) shape, got {q.shape}, {k.shape}, {v.shape}")
    dtype = np.result_type(q, k, v)
    if dtype not in _PRECISION:
        raise ValueError(f"q, k, v must be float32 or float64, got {dtype}")
    B, H, T, D = q.shape
    period, position = int(period), int(position)
    if period < 1 or position < 0:
        raise ValueError(f"period must be >= 1 and position >= 0, got {period}, {position}")
    layout = _layout(rule, D, tuple(sorted(params.items())) if params else (), retention, lambda_1, period,
                     position, _PRECISION[dtype])
    names = layout.gate_names
    if gates.keys() != set(names):
        raise ValueError(f"rule {rule!r} takes gates {list(names)}, got {sorted(gates)}")
    gate_shape = q.shape[:3]
    gate_values = np.empty((*gate_shape, len(names)), dtype)
    for index, name in enumerate(names):  # the gates interleaved, (B, H, T, G)
        gate = np.asarray(gates[name])
        if gate.shape != gate_shape:
            raise ValueError(f"each gate must have shape {gate_shape}, got {gate.shape} for {name}")
        gate_values[..., index] = gate
    own = _rule_tensors(module, D, layout.hp, tensors, dtype) if tensors or layout.has_tensors else []
    state = np.empty((B, H, *layout.state_shape), dtype)
    if initial_state is None:
        state[...] = layout.init
    else:
        initial_state = np.asarray(initial_state)
        if initial_state.shape != state.shape:
            raise ValueError(f"initial_state must have shape {state.shape}, got {initial_state.shape}")
        state[...] = initial_state
    if x is not None:
        x = np.ascontiguousarray(x, dtype)
        if x.shape != q.shape:
            raise ValueError(f"x must have the shape of q, {q.shape}, got {x.shape}")
    arrays = [np.ascontiguousarray(k, dtype), np.ascontiguousarray(v, dtype), np.ascontiguousarray(q, dtype), x,
              gate_values]
    return _Call._make((layout, arrays, state, own))  # _make: a third of _Call()'s cost


_SCRATCH = threading.local()  # per thread, by precision: the largest scratch yet, wrapped


def _scratch(layout: _Layout):
    """A hecate_real[] of at least layout.scratch_len scalars, kept between calls: one per thread
    (cffi lets go of the GIL during a call, so two threads must not share one) and precision."""
    precision = layout.binding.precision
    held = getattr(_SCRATCH, precision, None)
    if held is None or len(held) < layout.scratch_len:
        held = layout.wrap(np.empty(layout.scratch_len, layout.binding.dtype))
        setattr(_SCRATCH, precision, held)
    return held


def _cuda_backend(call: _Call):
    """The CUDA binding for a call (float32 only; the import stays lazy so the CPU path never needs it)."""
    if call.dtype != np.float32:
        raise ValueError(f"backend='cuda' runs float32 arrays, got {call.dtype}")
    from hecate_edge import cuda
    return cuda


def run(rule: str, q, k, v, gates: dict, initial_state=None, output_final_state: bool = True,
        params: dict | None = None, retention: str | None = None, lambda_1: float | None = None, x=None,
        tensors: dict | None = None, backend: str = "cpu", period: int = 1, position: int = 0):
    """The op of `rule` (a name of the rule registry); see the module docs."""
    check_backend(backend)
    call = _prepare(rule, q, k, v, gates, initial_state, params, retention, lambda_1, x, tensors, period, position)
    k, v, q, x, gate_values = call.arrays
    state = call.state
    if backend in ("cuda", "cuda-chunk"):
        out, state = _cuda_backend(call).rule_forward(call.spec, k, v, q, gate_values, state,
                                                      chunked=backend == "cuda-chunk")
        return out, (state if output_final_state else None)
    layout = call.layout
    ffi, wrap = layout.binding.ffi, layout.wrap
    out = np.empty(q.shape, call.dtype)
    # the (b, h) slices are contiguous and consecutive: one call runs them all
    check(layout.binding, layout.binding.lib.hecate_rule_forward_batch(
        layout.c_spec, q.shape[0] * q.shape[1], q.shape[2], wrap(k), wrap(v), wrap(q),
        ffi.NULL if x is None else wrap(x), wrap(gate_values), _tensor_ptrs(layout, call.tensors), wrap(state),
        wrap(out), _scratch(layout)))
    return out, (state if output_final_state else None)


def backward(rule: str, q, k, v, gates: dict, dy, initial_state=None, params: dict | None = None,
             retention: str | None = None, lambda_1: float | None = None, x=None, tensors: dict | None = None,
             backend: str = "cpu", period: int = 1, position: int = 0) -> dict:
    """Gradients of sum(o * dy) for run(rule, q, k, v, gates, initial_state, ...): a dict with
    "q", "k", "v" (B, H, T, D) and one (B, H, T) entry per gate name; the incoming state is a
    constant (MATH §7).  The CPU path is hecate_rule_backward, the backward model training runs;
    with x given (Trellis) "x" holds its gradient, else it is part of "k"."""
    check_backend(backend)
    call = _prepare(rule, q, k, v, gates, initial_state, params, retention, lambda_1, x, tensors, period, position)
    k, v, q, _, gate_values = call.arrays
    dy = np.ascontiguousarray(dy, call.dtype)
    if dy.shape != q.shape:
        raise ValueError(f"dy must have the shape of q, {q.shape}, got {dy.shape}")
    names = call.layout.gate_names
    if backend in ("cuda", "cuda-chunk"):
        dk, dv, dq, dgates = _cuda_backend(call).rule_backward(call.spec, k, v, q, gate_values, call.state, dy,
                                                               chunked=backend == "cuda-chunk")
        dx = None
    else:
        dk, dv, dq, dgates, dx = _cpu_backward(call, dy)
    grads = {"q": dq, "k": dk, "v": dv, **{name: dgates[..., g] for g, name in enumerate(names)}}
    if dx is not None:
        grads["x"] = dx
    return grads


def _cpu_backward(call: _Call, dy: np.ndarray):
    """hecate_rule_backward over every (batch, head): dk, dv, dq, dgates, and dx (None without an x)."""
    layout = call.layout
    ffi, lib, wrap = layout.binding.ffi, layout.binding.lib, layout.wrap
    k, v, q, x, gate_values = call.arrays
    B, H, T, D = q.shape
    length = ffi.new("size_t *")
    check(layout.binding, lib.hecate_rule_backward_len(layout.c_spec, T, length))
    work = np.empty(max(length[0], 1), call.dtype)
    dk, dv, dq = (np.zeros((B, H, T, D), call.dtype) for _ in range(3))
    dx = None if x is None else np.zeros((B, H, T, D), call.dtype)
    dgates = np.zeros(gate_values.shape, call.dtype)
    dtensors = [np.zeros_like(a) for a in call.tensors]
    # the (b, h) slices are contiguous and consecutive: one call runs them all
    check(layout.binding, lib.hecate_rule_backward_batch(
        layout.c_spec, B * H, T, wrap(k), wrap(v), wrap(q), ffi.NULL if x is None else wrap(x), wrap(gate_values),
        _tensor_ptrs(layout, call.tensors), wrap(call.state), wrap(dy), wrap(dk), wrap(dv), wrap(dq),
        ffi.NULL if dx is None else wrap(dx), wrap(dgates), _tensor_ptrs(layout, dtensors), wrap(work)))
    return dk, dv, dq, dgates, dx


def _tensor_ptrs(layout: _Layout, arrays: list):
    """A hecate_real*[] over the rule's tensors (or their gradients), NULL for a rule without any."""
    ffi = layout.binding.ffi
    return ffi.new("hecate_real *[]", [layout.wrap(a) for a in arrays]) if arrays else ffi.NULL


def _rule_tensors(module, D: int, hp: dict, given: dict | None, dtype) -> list[np.ndarray]:
    """The rule's own parameter tensors in file order, shared by every (batch, head):
    `given` ({name: array}) where named, else the rule's init."""
    specs = rule_tensor_specs(module, D, hp)
    given = dict(given or {})
    unknown = sorted(set(given) - {name for name, _ in specs})
    if unknown:
        raise ValueError(f"rule {module.NAME!r} has no tensors {unknown} (it takes {[n for n, _ in specs]})")
    init = module.init_tensors(D, hp) if specs else {}
    out = []
    for name, shape in specs:
        array = np.ascontiguousarray(given.get(name, init[name]), dtype)
        if array.shape != shape:
            raise ValueError(f"tensor {name} must have shape {shape}, got {array.shape}")
        out.append(array)
    return out


def _make_op(name: str):
    gate_names = ", ".join(g for g, _ in RULES[name].GATES)

    def op(q, k, v, initial_state=None, output_final_state: bool = True, params: dict | None = None,
           retention: str | None = None, lambda_1: float | None = None, x=None, tensors: dict | None = None,
           backend: str = "cpu", period: int = 1, position: int = 0, **gates):
        return run(name, q, k, v, gates, initial_state=initial_state, output_final_state=output_final_state,
                   params=params, retention=retention, lambda_1=lambda_1, x=x, tensors=tensors, backend=backend,
                   period=period, position=position)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = (f"The {name} rule as an op: {name}(q, k, v, {gate_names}=..., initial_state=None, "
                  f"output_final_state=True, params=None, retention=None, lambda_1=None, x=None, tensors=None, "
                  f"backend='cpu', period=1, position=0) "
                  f"-> (o, final_state); "
                  f"see hecate_edge.ops and docs/OPS.md.")
    return op


for _name in RULES:
    globals()[_name] = _make_op(_name)

__all__ = ["run", "backward", *RULES]
