"""hecate_edge.torch.ops (the rules as torch ops with autograd) against
hecate_edge.ops (the C runtime's op forward and backward), every rule case,
both paths (the op path and the torch path), float64: outputs and final
states, continuing from a handed-on state and on a CMS clock, and the
gradients of sum(o * dy).  Skips where torch is not installed."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hecate_edge import ops  # noqa: E402
from hecate_edge.reference.rules import RULES  # noqa: E402
from hecate_edge.torch import ops as tops  # noqa: E402
from conftest import RULE_CASES, elastic_lambda_1, parse_case  # noqa: E402
from parity import assert_close  # noqa: E402

RANGES = {"sigmoid": (0.02, 0.3), "softplus": (0.05, 0.5), "identity": (-1.0, 1.0)}
B, H, T, D = 2, 2, 6, 8


def inputs(rule, seed=0):
    rng = np.random.default_rng(seed)
    q, k, v, dy = (rng.normal(size=(B, H, T, D)) for _ in range(4))
    k /= np.linalg.norm(k, axis=-1, keepdims=True)
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    gates = {name: rng.uniform(*RANGES[kind], (B, H, T)) for name, kind in RULES[rule].GATES}
    return q, k, v, gates, dy


def options(case):
    rule, retention, params = parse_case(case)
    lam = elastic_lambda_1(rule) if retention == "elastic_net" else None
    return rule, {"params": params, "retention": retention, "lambda_1": lam}


@pytest.mark.parametrize("fast_path", [True, False], ids=["op", "torch"])
@pytest.mark.parametrize("case", RULE_CASES)
def test_torch_op_matches_runtime_op(case, fast_path):
    """Two calls with the state handed on, period 2 from position 1: o and the state as the
    runtime's op; the gradients of the second call as ops.backward's."""
    rule, opts = options(case)
    q, k, v, gates, dy = inputs(rule)
    clock = {"period": 2, "position": 1}
    o1, s1 = ops.run(rule, q[:, :, :3], k[:, :, :3], v[:, :, :3], {n: g[..., :3] for n, g in gates.items()},
                     **opts, **clock)
    tensors = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    tgates = {n: torch.tensor(g, requires_grad=True) for n, g in gates.items()}
    first = tops.run(rule, *(a[:, :, :3] for a in tensors), {n: g[..., :3] for n, g in tgates.items()},
                     fast_path=fast_path, **opts, **clock)
    assert_close(first[0].detach().numpy(), o1, 1e-10, "o of the first call")
    assert_close(first[1].detach().numpy(), s1, 1e-10, "state after the first call")
    rest = {"period": 2, "position": 4, "initial_state": s1}
    o2, s2 = ops.run(rule, q[:, :, 3:], k[:, :, 3:], v[:, :, 3:], {n: g[..., 3:] for n, g in gates.items()},
                     **opts, **rest)
    second = tops.run(rule, *(a[:, :, 3:] for a in tensors), {n: g[..., 3:] for n, g in tgates.items()},
                      fast_path=fast_path, **opts, **{**rest, "initial_state": first[1].detach()})
    assert_close(second[0].detach().numpy(), o2, 1e-10, "o of the second call")
    assert_close(second[1].detach().numpy(), s2, 1e-10, "final state")
    torch.sum(second[0] * torch.as_tensor(dy[:, :, 3:])).backward()
    want = ops.backward(rule, q[:, :, 3:], k[:, :, 3:], v[:, :, 3:], {n: g[..., 3:] for n, g in gates.items()},
                        dy[:, :, 3:], **opts, **rest)
    for name, tensor in [("q", tensors[0]), ("k", tensors[1]), ("v", tensors[2]), *tgates.items()]:
        assert_close(tensor.grad.numpy()[..., 3:, :] if tensor.dim() == 4 else tensor.grad.numpy()[..., 3:],
                     want[name], 1e-8, f"d/d{name}")


def test_per_rule_ops_and_state_gradient():
    """tops.delta is run("delta"); on the torch path the initial state takes a gradient too."""
    q, k, v, gates, _ = inputs("delta")
    state = torch.zeros(B, H, D, D, dtype=torch.float64, requires_grad=True)
    o, final = tops.delta(*(torch.as_tensor(a) for a in (q, k, v)), initial_state=state,
                          **{n: torch.as_tensor(g) for n, g in gates.items()})
    want, _ = ops.delta(q, k, v, **gates)
    assert_close(o.detach().numpy(), want, 1e-10, "o")
    o.sum().backward()
    assert state.grad is not None and torch.isfinite(state.grad).all()
