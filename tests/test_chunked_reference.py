"""The chunked form of the delta and Hebbian rules in float64 (hecate_edge.reference.chunked, the
spec of the CUDA chunked forward, docs/CUDA.md) against the token-by-token C runtime in its
double build: outputs, final state and every gradient of its backward, for chunk sizes that
divide T, do not, and exceed it, and under strong decay."""
import numpy as np
import pytest

from hecate_edge import ops
from hecate_edge.reference import chunked
from rule_inputs import rule_inputs

TOL = 1e-11  # float64; different operation orders over a few hundred terms


def _case(rule, T, d, seed, strong_decay=False):
    q, k, v, gates, dy, state = rule_inputs(rule, 1, 1, T, d, seed=seed, dtype=np.float64)
    if strong_decay:
        gates["alpha"][:, :, 3::2] = 0.999
    alpha = gates["alpha"][0, 0]
    theta = gates["theta"][0, 0] if "theta" in gates else np.zeros(T)
    return q, k, v, gates, dy, state, alpha, theta


@pytest.mark.parametrize("rule", ["delta", "hebbian"])
@pytest.mark.parametrize("T,chunk", [(45, 16), (32, 16), (7, 16), (40, 5)])
@pytest.mark.parametrize("strong_decay", [False, True], ids=["", "strong-decay"])
def test_chunked_form_matches_the_token_by_token_rule(rule, T, chunk, strong_decay):
    d = 12
    q, k, v, gates, dy, state, alpha, theta = _case(rule, T, d, seed=T, strong_decay=strong_decay)
    error = rule == "delta"
    S0 = state[0, 0].reshape(d, d)
    want_y, want_s = ops.run(rule, q, k, v, gates, initial_state=state)
    y, S = chunked.chunk_forward(k[0, 0], v[0, 0], q[0, 0], alpha, theta, S0, chunk, error)
    np.testing.assert_allclose(y, want_y[0, 0], rtol=0, atol=TOL)
    np.testing.assert_allclose(S, want_s[0, 0].reshape(d, d), rtol=0, atol=TOL)
    want = ops.backward(rule, q, k, v, gates, dy, initial_state=state)
    got = chunked.chunk_backward(k[0, 0], v[0, 0], q[0, 0], alpha, theta, S0, dy[0, 0], chunk, error)
    names = ["k", "v", "q", "alpha"] + (["theta"] if error else [])
    for name, g in zip(names, got):
        scale = max(1.0, np.abs(want[name]).max())
        np.testing.assert_allclose(g, want[name][0, 0], rtol=0, atol=TOL * scale, err_msg=f"d{name}")
