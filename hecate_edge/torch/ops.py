"""The memory rules as torch ops with autograd (docs/TORCH.md, docs/OPS.md):
hecate_edge.ops's convention on torch tensors of any device.

    o, final_state = hecate_edge.torch.ops.delta(q, k, v, alpha=alpha, theta=theta)

q, k, v (B, H, T, D); each gate (B, H, T) after its activation; no
normalization inside; initial_state (B, H, *state shape), or (B, H, 2, ...)
with period > 1 (accumulated, then block-start state), None for the rule's
init; params, retention, lambda_1, x, tensors, period, position as in
hecate_edge.ops.  Gradients reach q, k, v, the gates, x, and, on the torch
path, the rule's tensors and the initial state.  The recurrence runs the
runtime's op (hecate_edge.torch.fast: C on CPU tensors, the CUDA kernels on
CUDA tensors where they apply) when the initial state needs no gradient and
the rule owns no tensors; otherwise, or with fast=False, the torch ops of
hecate_edge.torch.rules (MATH §3, §6.1), slower and equally exact.
"""
from __future__ import annotations

import torch

from hecate_edge.reference.retention import resolve as resolve_retention
from hecate_edge.reference.rules import RULES as REF_RULES
from hecate_edge.reference.rules import resolve_params, rule_tensor_specs
from hecate_edge.torch import fast
from hecate_edge.torch import rules as torch_rules
from hecate_edge.torch.cms import LevelSpec, recurrence


def run(rule: str, q, k, v, gates: dict, initial_state=None, params: dict | None = None,
        retention: str | None = None, lambda_1: float | None = None, x=None, tensors: dict | None = None,
        period: int = 1, position: int = 0, fast_path: bool = True):
    """(o (B, H, T, D), final state) of `rule` (a registry name); see the module docs."""
    if rule not in REF_RULES:
        raise ValueError(f"unknown memory rule {rule!r} (known: {sorted(REF_RULES)})")
    module = REF_RULES[rule]
    if q.dim() != 4 or q.shape != k.shape or q.shape != v.shape:
        raise ValueError(f"q, k, v must share one (B, H, T, D) shape, got {tuple(q.shape)}, {tuple(k.shape)}, "
                         f"{tuple(v.shape)}")
    B, H, T, D = q.shape
    names = [name for name, _ in module.GATES]
    if sorted(gates) != sorted(names):
        raise ValueError(f"rule {rule!r} takes gates {names}, got {sorted(gates)}")
    hp = dict(zip(module.PARAM_NAMES, resolve_params(module, D, params)))
    name, lam = resolve_retention(module, retention, lambda_1)
    spec = LevelSpec(rule, torch_rules.rule(rule), module.GATES, False, False, int(period), False,
                     {**hp, "retention": name, "lambda_1": lam}, tuple(getattr(module, "EXTRA_INPUTS", ())))
    init = torch.as_tensor(module.init_state(D, hp), dtype=q.dtype, device=q.device)
    shape = ((2,) if period > 1 else ()) + tuple(init.shape)
    if initial_state is None:
        state = init.expand((B * H,) + tuple(init.shape))
        state = torch.stack([state, state], 1) if period > 1 else state
    elif tuple(initial_state.shape) != (B, H, *shape):
        raise ValueError(f"initial_state must have shape {(B, H, *shape)}, got {tuple(initial_state.shape)}")
    else:
        state = initial_state.reshape((B * H,) + shape)
    memory, at = (state[:, 0], state[:, 1]) if period > 1 else (state, state)
    flat = [a.reshape(B * H, T, D) for a in (k, v, q)]
    g = {name: gates[name].reshape(B * H, T) for name in names}
    xs = None if x is None else x.reshape(B * H, T, D)
    own = {name: torch.as_tensor(value, dtype=q.dtype, device=q.device)
           for name, value in (module.init_tensors(D, hp).items() if rule_tensor_specs(module, D, hp) else ())}
    own.update(tensors or {})
    constant = not (memory.requires_grad or at.requires_grad)
    if fast_path and constant and fast.runs(spec, q):
        y, memory, at = fast.recurrence(spec, *flat, g, xs, memory, at, int(position))
    else:
        y, memory, at = recurrence(spec, *flat, g, memory, at, int(position), xs, own or None)
    final = torch.stack([memory, at], 1) if period > 1 else memory
    return y.reshape(B, H, T, D), final.reshape((B, H) + shape)


def _make_op(name: str):
    def op(q, k, v, initial_state=None, params=None, retention=None, lambda_1=None, x=None, tensors=None,
           period: int = 1, position: int = 0, fast_path: bool = True, **gates):
        return run(name, q, k, v, gates, initial_state, params, retention, lambda_1, x, tensors, period, position,
                   fast_path)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"The {name} rule as a torch op: see hecate_edge.torch.ops."
    return op


for _name in REF_RULES:
    globals()[_name] = _make_op(_name)

__all__ = ["run", *REF_RULES]
