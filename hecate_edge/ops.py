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
Returns o (B, H, T, D) with o_t the read after token t's write, and the final
state (B, H, *state shape), or None when output_final_state is False.
"""
from __future__ import annotations

import numpy as np

from hecate_edge.reference.rules import RULES, resolve_params
from hecate_edge.runtime import _check, load_library

_PRECISION = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}


def run(rule: str, q, k, v, gates: dict, initial_state=None, output_final_state: bool = True,
        params: dict | None = None):
    """The op of `rule` (a name of the rule registry); see the module docs."""
    module = RULES.get(rule)
    if module is None:
        raise ValueError(f"unknown memory rule {rule!r} (known: {sorted(RULES)})")
    q, k, v = (np.asarray(a) for a in (q, k, v))
    if q.ndim != 4 or q.shape != k.shape or q.shape != v.shape:
        raise ValueError(f"q, k, v must share one (B, H, T, D) shape, got {q.shape}, {k.shape}, {v.shape}")
    dtype = np.result_type(q, k, v)
    if dtype not in _PRECISION:
        raise ValueError(f"q, k, v must be float32 or float64, got {dtype}")
    B, H, T, D = q.shape
    names = [name for name, _ in module.GATES]
    if sorted(gates) != sorted(names):
        raise ValueError(f"rule {rule!r} takes gates {names}, got {sorted(gates)}")
    gate_values = np.stack([np.asarray(gates[name], dtype) for name in names], axis=-1)
    if gate_values.shape != (B, H, T, len(names)):
        raise ValueError(f"each gate must have shape {(B, H, T)}")
    values = resolve_params(module, D, params)
    state_shape = module.init_state(D, dict(zip(module.PARAM_NAMES, values))).shape
    binding = load_library(_PRECISION[dtype])
    ffi, lib = binding.ffi, binding.lib
    spec = ffi.new("hecate_rule_spec *", {"rule": module.RULE_ID, "d": D, "params": list(values)})
    shape = [ffi.new("uint32_t *"), ffi.new("size_t *"), ffi.new("size_t *")]
    _check(binding, lib.hecate_rule_shape(spec, *shape))
    if shape[1][0] != int(np.prod(state_shape)):
        raise RuntimeError(f"{rule}: the runtime's state has {shape[1][0]} scalars, the reference's "
                           f"{state_shape}; library and package are out of step")
    state = np.empty((B, H, *state_shape), dtype)
    if initial_state is None:
        for b in range(B):
            for h in range(H):
                _check(binding, lib.hecate_rule_init(spec, _ptr(ffi, state[b, h])))
    else:
        initial_state = np.asarray(initial_state)
        if initial_state.shape != state.shape:
            raise ValueError(f"initial_state must have shape {state.shape}, got {initial_state.shape}")
        state[...] = initial_state
    out = np.empty((B, H, T, D), dtype)
    scratch = np.empty(max(shape[2][0], 1), dtype)
    arrays = [np.ascontiguousarray(a, dtype) for a in (k, v, q, gate_values)]
    for b in range(B):
        for h in range(H):
            kk, vv, qq, gg = (a[b, h] for a in arrays)
            _check(binding, lib.hecate_rule_forward(
                spec, T, _ptr(ffi, kk), _ptr(ffi, vv), _ptr(ffi, qq), _ptr(ffi, gg),
                _ptr(ffi, state[b, h]), _ptr(ffi, out[b, h]), _ptr(ffi, scratch)))
    return out, (state if output_final_state else None)


def _ptr(ffi, array: np.ndarray):
    """A hecate_real* to a C-contiguous array (no copy)."""
    return ffi.cast("hecate_real *", ffi.from_buffer(array))


def _make_op(name: str):
    gate_names = ", ".join(g for g, _ in RULES[name].GATES)

    def op(q, k, v, initial_state=None, output_final_state: bool = True, params: dict | None = None, **gates):
        return run(name, q, k, v, gates, initial_state=initial_state, output_final_state=output_final_state,
                   params=params)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = (f"The {name} rule as an op: {name}(q, k, v, {gate_names}=..., initial_state=None, "
                  f"output_final_state=True, params=None) -> (o, final_state); see hecate_edge.ops and docs/OPS.md.")
    return op


for _name in RULES:
    globals()[_name] = _make_op(_name)

__all__ = ["run", *RULES]
