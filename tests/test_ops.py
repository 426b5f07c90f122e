"""hecate_edge.ops: every registered rule as an op on (B, H, T, D) arrays,
against the numpy reference rule applied token by token (docs/OPS.md)."""
import functools

import numpy as np
import pytest

from hecate_edge import ops
from hecate_edge.reference.rules import RULES, resolve_params
from conftest import ALL_RULES, RULE_CASES, elastic_lambda_1, parse_case
from parity import assert_close

TOL = {np.float32: 1e-5, np.float64: 1e-12}


def inputs(rule, B=2, H=3, T=20, D=8, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    q, k, v = (rng.normal(size=(B, H, T, D)) for _ in range(3))
    k /= np.linalg.norm(k, axis=-1, keepdims=True)  # the convention: callers normalize
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    gates = {name: (rng.uniform(0.05, 0.5, (B, H, T)) if kind == "sigmoid" else rng.uniform(0.05, 0.5, (B, H, T)))
             for name, kind in RULES[rule].GATES}
    cast = lambda a: np.asarray(a, dtype)
    return cast(q), cast(k), cast(v), {n: cast(g) for n, g in gates.items()}


def default_hp(rule, D, retention=None, overrides=None):
    """The rule's hyper-parameters (defaults updated by overrides), and the retention
    (elastic net at the tests' lambda_1)."""
    module = RULES[rule]
    hp = dict(zip(module.PARAM_NAMES, resolve_params(module, D, overrides)))
    if retention == "elastic_net":
        hp.update(retention=retention, lambda_1=float(np.float32(elastic_lambda_1(rule))))
    elif retention:
        hp.update(retention=retention, lambda_1=0.0)
    return hp


def perturbed_init(rule, B, H, D, rng, dtype):
    """The rule's init state plus noise (kept positive: MEMORA's state lives on the simplex)."""
    init = RULES[rule].init_state(D, default_hp(rule, D))
    noise = 0.1 * rng.normal(size=(B, H, *init.shape))
    return np.abs(init + noise).astype(dtype)


def reference(rule, q, k, v, gates, initial_state, retention=None, overrides=None):
    module = RULES[rule]
    B, H, T, D = q.shape
    hp = default_hp(rule, D, retention, overrides)
    out = np.zeros((B, H, T, D))
    final = np.zeros((B, H, *module.init_state(D, hp).shape))
    for b in range(B):
        for h in range(H):
            s = initial_state[b, h].astype(np.float64)
            for t in range(T):
                g = {name: float(gates[name][b, h, t]) for name in gates}
                s, out[b, h, t] = module.write_read(s, k[b, h, t], v[b, h, t], q[b, h, t], g, hp)
            final[b, h] = s
    return out, final


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", RULE_CASES)
def test_op_matches_reference(case, dtype):
    rule, retention, overrides = parse_case(case)
    q, k, v, gates = inputs(rule, dtype=dtype)
    rng = np.random.default_rng(1)
    init = perturbed_init(rule, 2, 3, 8, rng, dtype)
    hp = default_hp(rule, 8, retention)
    o, final = getattr(ops, rule)(q, k, v, initial_state=init, retention=retention, params=overrides,
                                  lambda_1=hp.get("lambda_1"), **gates)
    want_o, want_final = reference(rule, *(a.astype(np.float64) for a in (q, k, v)),
                                   {n: g.astype(np.float64) for n, g in gates.items()}, init, retention, overrides)
    assert o.dtype == dtype and final.dtype == dtype
    assert_close(o, want_o, TOL[dtype], f"{rule} outputs")
    assert_close(final, want_final, TOL[dtype], f"{rule} final state")


@pytest.mark.parametrize("rule", ALL_RULES)
def test_split_time_equals_one_call(rule):
    """Chunking over time with the state handed on gives the same bits (MATH §6)."""
    q, k, v, gates = inputs(rule, T=24)
    whole, final = ops.run(rule, q, k, v, gates)
    first, mid = ops.run(rule, q[:, :, :10], k[:, :, :10], v[:, :, :10], {n: g[:, :, :10] for n, g in gates.items()})
    second, end = ops.run(rule, q[:, :, 10:], k[:, :, 10:], v[:, :, 10:],
                          {n: g[:, :, 10:] for n, g in gates.items()}, initial_state=mid)
    assert np.array_equal(np.concatenate([first, second], axis=2), whole)
    assert np.array_equal(end, final)


def test_default_initial_state_and_no_final_state():
    q, k, v, gates = inputs("delta")
    o, final = ops.delta(q, k, v, output_final_state=False, **gates)
    assert final is None and o.shape == q.shape
    zero = np.zeros((2, 3, 8, 8))
    assert np.array_equal(o, ops.delta(q, k, v, initial_state=zero, **gates)[0])


def test_bad_arguments_raise_clear_errors():
    q, k, v, gates = inputs("delta")
    with pytest.raises(ValueError, match="gates"):
        ops.delta(q, k, v, alpha=gates["alpha"])
    with pytest.raises(ValueError, match="shape"):
        ops.delta(q, k[:, :, :5], v, **gates)
    with pytest.raises(ValueError, match="float32 or float64"):
        ops.delta(q.astype(np.int64), k.astype(np.int64), v.astype(np.int64), **gates)
    with pytest.raises(ValueError, match="unknown memory rule"):
        ops.run("nope", q, k, v, gates)
    with pytest.raises(ValueError, match="initial_state"):
        ops.delta(q, k, v, initial_state=np.zeros((1, 1, 8, 8)), **gates)


def test_atlas_with_a_one_token_window_is_titans():
    """MATH §3.6: the Omega rule over the last c = 1 token is Titans' update."""
    q, k, v, gates = inputs("titans")
    o_titans, s_titans = ops.titans(q, k, v, **gates)
    o_atlas, s_atlas = ops.atlas(q, k, v, params={"window": 1}, **gates)
    D = q.shape[-1]
    assert_close(o_atlas, o_titans, 1e-12, "outputs")
    assert_close(s_atlas[..., :2 * D * D].reshape(s_titans.shape), s_titans, 1e-12, "M, Z")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_trellis_compresses_the_x_it_is_given(dtype):
    """MATH §3.9: Trellis' key pass reads x (its op input, default k)."""
    q, k, v, gates = inputs("trellis", dtype=dtype)
    x = np.random.default_rng(7).normal(size=q.shape).astype(dtype)
    o, final = ops.trellis(q, k, v, x=x, **gates)
    module, hp = RULES["trellis"], default_hp("trellis", 8)
    s = module.init_state(8, hp)
    for t in range(q.shape[2]):
        g = {n: float(gates[n][0, 0, t]) for n in gates}
        s, y = module.write_read(s, *(a[0, 0, t].astype(np.float64) for a in (k, v, q)), g, hp,
                                 x=x[0, 0, t].astype(np.float64))
        assert_close(o[0, 0, t], y, TOL[dtype], f"output {t}")
    assert_close(final[0, 0], s, TOL[dtype], "final state")
    o_k, _ = ops.trellis(q, k, v, **gates)
    assert not np.allclose(o_k, o), "x must change what Trellis stores"


def test_lattice_slots_stay_on_the_sphere():
    q, k, v, gates = inputs("lattice", T=50)
    _, slots = ops.lattice(q, k, v, **gates)
    assert np.allclose(np.linalg.norm(slots, axis=-1), 1.0, atol=1e-12)


def test_rule_hyper_parameters_are_checked():
    q, k, v, gates = inputs("moneta")
    with pytest.raises(ValueError, match="no hyper-parameters"):
        ops.moneta(q, k, v, params={"window": 3}, **gates)
    with pytest.raises(ValueError, match="d_hidden"):
        ops.moneta(q, k, v, params={"d_hidden": 2.5}, **gates)
    o, state = ops.moneta(q, k, v, params={"d_hidden": 3}, **gates)
    assert state.shape == (2, 3, 2, 3, 8)


def _forward_batch(lib, ffi, spec, n, T, arrays, state, out, scratch):
    ptr = functools.partial(ffi.from_buffer, "hecate_real[]")
    return lib.hecate_rule_forward_batch(spec, n, T, *(ptr(a) for a in arrays), ffi.NULL, ptr(state), ptr(out),
                                         ptr(scratch))


def test_batched_forward_is_the_per_sequence_calls_and_runs_nothing_on_a_bad_state():
    """hecate_rule_forward_batch (what ops.run calls) gives the bits of one
    hecate_rule_forward per sequence; a non-finite incoming state in any
    sequence is HECATE_E_NONFINITE before any sequence runs."""
    from hecate_edge._lib import load_library
    binding = load_library("f64")
    ffi, lib = binding.ffi, binding.lib
    n, T, D = 3, 7, 8
    q, k, v, gates = inputs("delta", B=1, H=n, T=T, D=D)
    arrays = [np.ascontiguousarray(a[0]) for a in (k, v, q, k)]
    arrays.append(np.ascontiguousarray(np.stack([gates["alpha"][0], gates["theta"][0]], axis=-1)))
    spec = ffi.new("hecate_rule_spec *", {"rule": RULES["delta"].RULE_ID, "d": D, "params": [],
                                          "period": 1})
    state = np.random.default_rng(2).normal(size=(n, D, D)) * 0.1
    scratch = np.empty(4096)
    out, batch_state = np.empty((n, T, D)), state.copy()
    ptr = functools.partial(ffi.from_buffer, "hecate_real[]")
    assert _forward_batch(lib, ffi, spec, n, T, arrays, batch_state, out, scratch) == 0
    for i in range(n):
        one_state, one_out = state[i].copy(), np.empty((T, D))
        assert lib.hecate_rule_forward(spec, T, *(ptr(np.ascontiguousarray(a[i])) for a in arrays), ffi.NULL,
                                       ptr(one_state), ptr(one_out), ptr(scratch)) == 0
        assert np.array_equal(one_out, out[i]) and np.array_equal(one_state, batch_state[i])
    bad = state.copy()
    bad[n - 1, 0, 0] = np.nan
    before, out[...] = bad.copy(), 0.0
    status = _forward_batch(lib, ffi, spec, n, T, arrays, bad, out, scratch)
    assert binding.status_names[status] == "HECATE_E_NONFINITE"
    assert np.array_equal(bad[:n - 1], before[:n - 1]) and not out.any()


def test_threads_calling_at_once_get_the_one_thread_bits():
    """The runtime runs without the GIL, and ops keeps a scratch buffer between calls:
    one per thread, so calls from several threads at once give the bits of serial calls."""
    from concurrent.futures import ThreadPoolExecutor
    rules = ["delta", "titans"] * 4
    cases = [(rule, *inputs(rule, B=1, H=2, T=200, D=32, seed=seed)) for seed, rule in enumerate(rules)]
    want = [ops.run(*case) for case in cases]
    with ThreadPoolExecutor(4) as pool:
        for _ in range(5):
            for (o, s), (want_o, want_s) in zip(pool.map(lambda case: ops.run(*case), cases), want):
                assert np.array_equal(o, want_o) and np.array_equal(s, want_s)
