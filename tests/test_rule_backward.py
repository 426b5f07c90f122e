"""hecate_rule_backward (ops.backward on the CPU): the exact backward of the
rule ops against central finite differences of the float64 forward, for the
matrix rules the CUDA backend mirrors (the reference its tests compare to)."""
import numpy as np
import pytest

from hecate_edge import ops
from finite_diff import numeric_gradient
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
    for name, array in inputs.items():
        numeric = numeric_gradient(lambda: loss(rule, q, k, v, gates, dy, state, params), array)
        assert_close(grads[name], numeric, 1e-6, f"{rule} d{name}")


def test_backward_checks_its_arguments():
    q, k, v, gates, dy, state = rule_inputs("delta", 1, 1, 3, 4, dtype=np.float64)
    with pytest.raises(ValueError, match="dy must have the shape"):
        ops.backward("delta", q, k, v, gates, dy[..., :2])
    with pytest.raises(ValueError, match="backend must be one of"):
        ops.backward("delta", q, k, v, gates, dy, backend="tpu")
