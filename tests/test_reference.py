"""Tests of the numpy reference (hecate_edge/reference): the MATH.md contract itself.

Covers chunking invariance (§6), loss at init (§5, §8), a hand-worked delta
step (§3.2), window edge cases (§2), frozen memory (§3.2), math helpers.
"""
import math

import numpy as np
import pytest

from hecate_edge.config import LEGACY_OFF, ModelConfig, tensor_specs
from hecate_edge.reference import attention, frontend, mathfn
from hecate_edge.reference.init import init_params
from hecate_edge.reference.model import ReferenceSession, cross_entropy
from hecate_edge.reference.rules import RULES, delta, rule_by_id

SMALL = ModelConfig(vocab=32, d_model=8, n_heads=2, window=4)


def random_tokens(n, vocab, seed=1):
    return np.random.default_rng(seed).integers(0, vocab, size=n)


def test_chunking_invariance_process_vs_step():
    params = init_params(SMALL, seed=3)
    tokens = random_tokens(23, SMALL.vocab)
    one_shot = ReferenceSession(SMALL, params)
    whole = one_shot.process(tokens)
    stepped = ReferenceSession(SMALL, params)
    rows = np.array([stepped.step(t) for t in tokens])
    chunked = ReferenceSession(SMALL, params)
    pieces, start = [], 0
    for size in (1, 5, 2, 7, 8):
        pieces.append(chunked.process(tokens[start:start + size]))
        start += size
    assert np.array_equal(whole, rows)
    assert np.array_equal(whole, np.concatenate(pieces))
    for other in (stepped, chunked):
        assert other.position == one_shot.position == len(tokens)
        assert np.array_equal(other.memory(0), one_shot.memory(0))
        for mine, theirs in zip(other.attention_cache(), one_shot.attention_cache()):
            assert np.array_equal(mine, theirs)


def test_memory_actually_learns_and_reset_restores_initial_state():
    params = init_params(SMALL, seed=3)
    session = ReferenceSession(SMALL, params)
    first = session.process(random_tokens(10, SMALL.vocab))
    assert np.abs(session.memory()).max() > 0
    session.reset()
    assert session.position == 0
    assert np.array_equal(session.memory(), np.zeros((8, 8)))
    assert session.attention_cache()[0].shape[0] == 0
    assert np.array_equal(session.process(random_tokens(10, SMALL.vocab)), first)


def test_process_empty_and_token_range():
    session = ReferenceSession(SMALL, init_params(SMALL, seed=0))
    assert session.process([]).shape == (0, SMALL.vocab)
    with pytest.raises(ValueError):
        session.step(SMALL.vocab)
    with pytest.raises(ValueError):
        session.step(-1)
    assert session.position == 0


def test_loss_at_init_is_near_uniform():
    cfg = ModelConfig()  # vocab 256, d 64
    tokens = random_tokens(129, cfg.vocab, seed=7)
    logits = ReferenceSession(cfg, init_params(cfg, seed=0)).process(tokens[:-1])
    assert abs(cross_entropy(logits, tokens[1:]) - math.log(256)) < 0.02


def test_cross_entropy_matches_hand_value_and_ignores_targets_out_of_vocab():
    logits = np.array([[0.0, math.log(3.0)], [5.0, 1.0]])
    # row 0: softmax = (1/4, 3/4); target 1 -> -log(3/4).  row 1 ignored (target 2 >= V).
    assert cross_entropy(logits, [1, 2]) == pytest.approx(-math.log(0.75), rel=1e-14)
    assert cross_entropy(logits, [2, 9]) == 0.0


def test_delta_rule_hand_computed_2x2_step():
    # written with M (column vectors) and checked on S = M^T, the stored state
    m = np.array([[1.0, 2.0], [0.0, -1.0]])
    km, vm, qm = np.array([1.0, 0.0]), np.array([0.5, 1.0]), np.array([0.0, 2.0])
    gates = {"alpha": 0.5, "theta": 0.25}
    # e = M km - vm = [1, 0] - [0.5, 1] = [0.5, -1]
    # M' = 0.5 M - 0.25 e km^T = [[0.5, 1], [0, -0.5]] - [[0.125, 0], [-0.25, 0]]
    expected_m = np.array([[0.375, 1.0], [0.25, -0.5]])
    expected_y = np.array([2.0, -1.0])  # M' [0, 2]
    s = m.T.copy()
    new_s, y = delta.write_read(s, km, vm, qm, gates)
    assert np.array_equal(new_s, expected_m.T)
    assert np.array_equal(y, expected_y)
    assert np.array_equal(delta.read(s, qm), np.array([4.0, -2.0]))
    assert np.array_equal(s, [[1.0, 0.0], [2.0, -1.0]])  # input state untouched


def test_rule_registry_and_delta_defaults():
    assert RULES["delta"] is delta and rule_by_id(0) is delta
    assert delta.GATES == (("alpha", "sigmoid"), ("theta", "softplus"))
    assert delta.DEFAULT_GATE_BIAS[0] == (-7.0, -2.9)  # D37: half-life ~760 tokens; D50: theta ~ 0.05
    assert np.array_equal(delta.init_state(3), np.zeros((3, 3)))
    with pytest.raises(ValueError):
        rule_by_id(99)


def test_front_end_gates_use_normalized_key_and_rule_activations():
    level = {"wk": np.array([[3.0, 0.0], [0.0, 4.0]]), "wv": np.eye(2), "wq": 2 * np.eye(2),
             "gate_w": np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]]),
             "gate_b": np.array([-3.0, -4.6])}
    x = np.array([1.0, 1.0])
    km, vm, qm = frontend.project(level, x, qk_norm=True)
    assert np.allclose(km, [0.6, 0.8]) and np.allclose(qm, np.sqrt([0.5, 0.5]))
    assert np.array_equal(vm, x)
    g = frontend.gates(level, km, vm, delta.GATES)
    assert g["alpha"] == pytest.approx(1 / (1 + math.exp(-(0.6 - 3.0))), rel=1e-14)
    assert g["theta"] == pytest.approx(math.log1p(math.exp(2.0 - 4.6)), rel=1e-14)
    raw_km, _, _ = frontend.project(level, x, qk_norm=False)
    assert np.array_equal(raw_km, [3.0, 4.0])


def manual_attention(q, keys, values, n_heads):
    """Direct MATH §2 over explicit rows, for comparison."""
    h = q.shape[0] // n_heads
    out = np.zeros_like(q)
    for j in range(n_heads):
        sl = slice(j * h, (j + 1) * h)
        s = np.array([q[sl] @ k[sl] for k in keys]) / math.sqrt(h)
        p = np.exp(s - s.max())
        p /= p.sum()
        out[sl] = sum(pi * v[sl] for pi, v in zip(p, values))
    return out


def test_attention_window_one_returns_current_value():
    rng = np.random.default_rng(0)
    cache = attention.WindowCache(1)
    for _ in range(5):
        q, k, v = rng.normal(size=(3, 6))
        cache.push(k, v)
        assert cache.keys().shape == (1, 6)
        assert np.allclose(attention.attend(q, cache.keys(), cache.values(), 3), v, rtol=0, atol=1e-15)


def test_attention_window_larger_than_history_and_sliding():
    rng = np.random.default_rng(1)
    window, history = 4, []
    cache = attention.WindowCache(window)
    for n in range(9):
        q, k, v = rng.normal(size=(3, 8))
        cache.push(k, v)
        history.append((k, v))
        visible = history[max(0, n - window + 1):]
        assert cache.keys().shape[0] == min(n + 1, window)
        expected = manual_attention(q, [kv[0] for kv in visible], [kv[1] for kv in visible], 2)
        assert np.allclose(attention.attend(q, cache.keys(), cache.values(), 2), expected,
                           rtol=1e-13, atol=1e-15)


def test_session_window_one_attention_is_value_of_current_token():
    cfg = ModelConfig(vocab=16, d_model=4, n_heads=2, window=1, **LEGACY_OFF)  # MAG, no positions
    params = init_params(cfg, seed=5)
    frozen = ReferenceSession(cfg, params, freeze_memory=True)  # memory stays 0, so y = 0
    for token in [3, 9, 9, 1]:
        logits = frozen.step(token)
        a = params["emb"][token] @ params["blk0.attn.wv"]
        expected = ((a * 0.5) @ params["blk0.attn.wo"]) @ params["head"]
        assert np.allclose(logits, expected, rtol=1e-13, atol=1e-15)


def test_frozen_memory_never_changes_and_is_read():
    params = init_params(SMALL, seed=2)
    session = ReferenceSession(SMALL, params)
    session.process(random_tokens(6, SMALL.vocab))
    learned = session.memory()
    assert np.abs(learned).max() > 0
    session.freeze_memory = True
    live = ReferenceSession(SMALL, params)
    live.process(random_tokens(6, SMALL.vocab))
    frozen_logits = session.process(random_tokens(12, SMALL.vocab, seed=9))
    live_logits = live.process(random_tokens(12, SMALL.vocab, seed=9))
    assert np.array_equal(session.memory(), learned)
    assert session.position == 18
    assert not np.allclose(frozen_logits, live_logits)


def test_frozen_from_reset_stays_at_init_state():
    session = ReferenceSession(SMALL, init_params(SMALL, seed=2), freeze_memory=True)
    session.process(random_tokens(20, SMALL.vocab))
    assert np.array_equal(session.memory(), np.zeros((8, 8)))


def test_init_params_follow_math_8():
    cfg = ModelConfig(vocab=32, d_model=16, n_heads=4, window=4)  # with the default 4-tap convolution
    params = init_params(cfg, seed=11)
    assert list(params) == [name for name, _ in tensor_specs(cfg)]
    assert all(p.dtype == np.float64 for p in params.values())
    again = init_params(cfg, seed=11)
    assert all(np.array_equal(params[k], again[k]) for k in params)
    rng = np.random.default_rng(11)
    s_model, s_mem = math.sqrt(1 / 16), math.sqrt(1 / 32)
    for name, shape in tensor_specs(cfg):
        if name.endswith("gate_b"):
            assert np.array_equal(params[name], [-7.0, -2.9])
            continue
        s = s_mem if ".mem0." in name else s_model
        want = rng.uniform(-s, s, size=shape)
        if ".conv_" in name:  # MATH §8: 1 + U(-s, s) on the current token's tap, the previous one's for keys
            want[-2 if name.endswith("conv_k") else -1] += 1.0
            assert np.array_equal(params[name], want), name
            continue
        assert np.array_equal(params[name], want), name
        assert np.abs(params[name]).max() < s


def test_mathfn_stable_and_exact():
    x = np.array([-1000.0, -30.0, -1.0, 0.0, 1.0, 30.0, 1000.0])
    assert np.all(np.isfinite(mathfn.sigmoid(x)))
    assert mathfn.sigmoid(0.0) == 0.5
    assert mathfn.sigmoid(-1000.0) == 0.0 and mathfn.sigmoid(1000.0) == 1.0
    assert mathfn.sigmoid(-30.0) == pytest.approx(math.exp(-30.0) / (1 + math.exp(-30.0)), rel=1e-15)
    assert mathfn.softplus(1000.0) == 1000.0
    assert mathfn.softplus(-1000.0) == 0.0
    assert mathfn.softplus(-30.0) == pytest.approx(math.exp(-30.0), rel=1e-14)
    assert mathfn.softplus(0.0) == pytest.approx(math.log(2.0), rel=1e-15)
    assert np.allclose(mathfn.softmax(np.array([1000.0, 1000.0])), [0.5, 0.5])
    assert np.array_equal(mathfn.l2_normalize(np.zeros(3)), np.zeros(3))
    assert np.allclose(mathfn.l2_normalize(np.array([1e-9, 0.0])), [0.1, 0.0])
    assert np.allclose(mathfn.l2_normalize(np.array([3.0, 4.0])), [0.6, 0.8])


def test_session_rejects_wrong_params():
    params = init_params(SMALL, seed=0)
    del params["head"]
    with pytest.raises(ValueError, match="head"):
        ReferenceSession(SMALL, params)
    params = init_params(SMALL, seed=0)
    params["emb"] = params["emb"][:, :4]
    with pytest.raises(ValueError, match="emb"):
        ReferenceSession(SMALL, params)
