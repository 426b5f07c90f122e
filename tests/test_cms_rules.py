"""Every rule as a CMS level (MATH §6.1) through the ops API: the C loop
against the reference's level_token, bit-exact chunking with the position
handed on, and the exact backward against finite differences (the block
ends inside the call and the incoming block-start state differs from the
state)."""
import numpy as np
import pytest

from hecate_edge import ops
from hecate_edge.reference.cms import level_token
from hecate_edge.reference.rules import RULES
from conftest import RULE_CASES, parse_case
from finite_diff import numeric_gradient
from parity import assert_close
from test_ops import TOL, default_hp, inputs, perturbed_init

# (period, position of token 0): blocks that start inside the call, one that
# started before it, and a period longer than the call (no write at all)
SCHEDULES = [(3, 0), (4, 6), (8, 3), (64, 5)]


def cms_state(rule, B, H, D, position, period, seed, dtype):
    """An op state (B, H, 2, *shape): accumulated state and block-start state,
    different unless a block starts at `position`."""
    rng = np.random.default_rng(seed)
    acc = perturbed_init(rule, B, H, D, rng, dtype)
    at = acc if position % period == 0 else perturbed_init(rule, B, H, D, rng, dtype)
    return np.stack([acc, at], axis=2)


def reference(rule, q, k, v, gates, state, period, position, hp, x=None):
    module = RULES[rule]
    B, H, T, D = q.shape
    out = np.zeros((B, H, T, D))
    final = np.zeros(state.shape)
    for b in range(B):
        for h in range(H):
            acc, at = (s.astype(np.float64) for s in state[b, h])
            for t in range(T):
                g = {name: float(gates[name][b, h, t]) for name in gates}
                extra = {"x": x[b, h, t]} if x is not None else {}
                acc, at, out[b, h, t] = level_token(module, acc, at, position + t, period, k[b, h, t], v[b, h, t],
                                                    q[b, h, t], g, hp, **extra)
            final[b, h] = np.stack([acc, at])
    return out, final


def _extra(rule, q):
    """The level input Trellis compresses (its own x, so the test sees it used)."""
    return np.random.default_rng(9).normal(size=q.shape).astype(q.dtype) if rule == "trellis" else None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("period,position", SCHEDULES)
@pytest.mark.parametrize("case", RULE_CASES)
def test_cms_level_matches_reference(case, period, position, dtype):
    rule, retention, overrides = parse_case(case)
    q, k, v, gates = inputs(rule, B=1, H=2, T=20, dtype=dtype)
    hp = default_hp(rule, 8, retention, overrides)
    state = cms_state(rule, 1, 2, 8, position, period, 1, dtype)
    x = _extra(rule, q)
    o, final = ops.run(rule, q, k, v, gates, initial_state=state, params=overrides, retention=retention,
                       lambda_1=hp.get("lambda_1"), x=x, period=period, position=position)
    f64 = lambda a: None if a is None else a.astype(np.float64)
    want_o, want_final = reference(rule, f64(q), f64(k), f64(v), {n: f64(g) for n, g in gates.items()}, state,
                                   period, position, hp, f64(x))
    assert_close(o, want_o, TOL[dtype], f"{case} outputs")
    assert_close(final, want_final, TOL[dtype], f"{case} final state")


@pytest.mark.parametrize("case", RULE_CASES)
def test_cms_chunking_is_bit_exact(case):
    """MATH §6 (A6): any split of the tokens, with the state and position handed on."""
    rule, retention, overrides = parse_case(case)
    q, k, v, gates = inputs(rule, B=1, H=1, T=21)
    hp = default_hp(rule, 8, retention, overrides)
    kw = dict(params=overrides, retention=retention, lambda_1=hp.get("lambda_1"), period=4)
    state = cms_state(rule, 1, 1, 8, 2, 4, 1, np.float64)
    whole, final = ops.run(rule, q, k, v, gates, initial_state=state, position=2, **kw)
    outs, position = [], 2
    for lo, hi in ((0, 5), (5, 6), (6, 14), (14, 21)):
        piece = lambda a: a[:, :, lo:hi]
        o, state = ops.run(rule, piece(q), piece(k), piece(v), {n: piece(g) for n, g in gates.items()},
                           initial_state=state, position=position, **kw)
        outs.append(o)
        position += hi - lo
    assert np.array_equal(np.concatenate(outs, axis=2), whole)
    assert np.array_equal(state, final)


def test_period_one_is_the_plain_rule():
    q, k, v, gates = inputs("delta")
    plain, final = ops.delta(q, k, v, **gates)
    again, final1 = ops.delta(q, k, v, period=1, position=17, **gates)
    assert np.array_equal(plain, again) and np.array_equal(final, final1)


@pytest.mark.parametrize("case", RULE_CASES)
def test_cms_backward_matches_finite_differences(case):
    """The exact backward of a level of period 3 whose first block started
    before the call: gradients reach the block-start state's uses (inner
    gradients and reads) and fold into the state at each block start."""
    rule, retention, overrides = parse_case(case)
    rng = np.random.default_rng(4)
    B, H, T, D, period, position = 1, 1, 8, 4, 3, 1
    q, k, v, gates = inputs(rule, B=B, H=H, T=T, D=D, seed=5)
    dy = rng.normal(size=q.shape)
    hp = default_hp(rule, D, retention, overrides)
    state = cms_state(rule, B, H, D, position, period, 6, np.float64)
    x = _extra(rule, q)
    kw = dict(initial_state=state, params=overrides, retention=retention, lambda_1=hp.get("lambda_1"), x=x,
              period=period, position=position)
    grads = ops.backward(rule, q, k, v, gates, dy, **kw)
    inputs_ = {"q": q, "k": k, "v": v, **gates, **({"x": x} if x is not None else {})}

    def loss():
        out, _ = ops.run(rule, q, k, v, gates, **kw)
        return float(np.sum(out * dy))

    for name, array in inputs_.items():
        numeric = numeric_gradient(loss, array)
        assert_close(grads[name], numeric, 1e-6, f"{case} d{name}")
