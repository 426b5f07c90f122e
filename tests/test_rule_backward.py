"""hecate_rule_backward (ops.backward on the CPU): the exact backward of the
rule ops against central finite differences of the float64 forward, for the
matrix rules the CUDA backend mirrors (the reference its tests compare to)."""
import numpy as np
import pytest

from hecate_edge import ops
from parity import assert_close
from rule_inputs import rule_inputs

CASES = [("delta", None), ("titans", None), ("hebbian", None), ("atlas", {"window": 3})]


def loss(rule, q, k, v, gates, dy, state, params):
    out, _ = ops.run(rule, q, k, v, gates, initial_state=state, params=params)
    return float(np.sum(out * dy))


@pytest.mark.parametrize("rule,params", CASES)
def test_backward_matches_finite_differences(rule, params):
    q, k, v, gates, dy, state = rule_inputs(rule, 1, 2, 6, 4, seed=3, dtype=np.float64, params=params)
    grads = ops.backward(rule, q, k, v, gates, dy, initial_state=state, params=params)
    inputs = {"q": q, "k": k, "v": v, **gates}
    eps = 1e-6
    for name, array in inputs.items():
        numeric = np.zeros_like(array)
        for at in np.ndindex(array.shape):
            saved = array[at]
            array[at] = saved + eps
            up = loss(rule, q, k, v, gates, dy, state, params)
            array[at] = saved - eps
            down = loss(rule, q, k, v, gates, dy, state, params)
            array[at] = saved
            numeric[at] = (up - down) / (2 * eps)
        assert_close(grads[name], numeric, 1e-6, f"{rule} d{name}")


def test_backward_checks_its_arguments():
    q, k, v, gates, dy, state = rule_inputs("delta", 1, 1, 3, 4, dtype=np.float64)
    with pytest.raises(ValueError, match="dy must have the shape"):
        ops.backward("delta", q, k, v, gates, dy[..., :2])
    with pytest.raises(ValueError, match="backend must be one of"):
        ops.backward("delta", q, k, v, gates, dy, backend="tpu")
