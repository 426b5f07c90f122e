"""HecateLM's autograd gradients against Session.train_chunk (the C backward,
double build) from a fresh and from a carried state, and against central
finite differences of the torch loss itself (float64).  Skips without torch."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hecate_edge.torch import HecateLM  # noqa: E402
from hecate_edge.torch.loss import cross_entropy  # noqa: E402
from conftest import build_model, lively_params  # noqa: E402
from finite_diff import central_difference  # noqa: E402
from parity import assert_close  # noqa: E402
from torch_sweep import CASES, case_id, sweep_config  # noqa: E402

BURN, CHUNK = 4, 7


def torch_grads(lm, tokens, targets, fast: bool, burn_in=None):
    lm.zero_grad()
    state = None
    if burn_in is not None:
        _, state = lm(torch.as_tensor(burn_in[None]))
    logits, _ = lm(torch.as_tensor(tokens[None]), state, fast=fast)
    loss = cross_entropy(logits, torch.as_tensor(targets[None]))
    loss.backward()
    return loss.item(), {name: p.grad.double().numpy() for name, p in lm.named_parameters()}


@pytest.mark.parametrize("case", CASES[1::3], ids=case_id)
def test_gradients_match_train_chunk(case):
    """From a state carried in by BURN tokens (MATH §7: a constant), every tensor's gradient
    equals train_chunk's (double build, 1e-8), on the torch path and the op path."""
    cfg = sweep_config(*case)
    model, _ = build_model(cfg, lively_params(cfg, 1), "f64")
    lm = HecateLM.from_file(model.to_bytes(), dtype=torch.float64)
    stream = np.random.default_rng(2).integers(0, cfg.vocab, BURN + CHUNK + 1)
    burn, tokens, targets = stream[:BURN], stream[BURN:-1], stream[BURN + 1:].copy()
    targets[2] = cfg.vocab  # an ignored target (MATH §5)
    sess = model.session(max_train_tokens=CHUNK)
    sess.process(burn)
    loss, flat = sess.train_chunk(tokens, targets)
    expected = model.split_grads(flat)
    for fast in (False, True):
        mine_loss, mine = torch_grads(lm, tokens, targets, fast, burn)
        assert abs(mine_loss - loss) <= 1e-10 * abs(loss)
        for name, grad in expected.items():
            assert_close(mine[name], grad, 1e-8, f"d loss / d {name} (fast={fast})")


@pytest.mark.parametrize("case", [CASES[0], CASES[5], CASES[22]], ids=case_id)
def test_gradients_match_finite_differences(case):
    """Autograd of the float64 model against central differences at a random entry of every tensor."""
    cfg = sweep_config(*case)
    lm = HecateLM(cfg, lively_params(cfg, 8), dtype=torch.float64)
    stream = np.random.default_rng(3).integers(0, cfg.vocab, CHUNK + 1)
    tokens, targets = torch.as_tensor(stream[None, :-1]), torch.as_tensor(stream[None, 1:])
    _, grads = torch_grads(lm, stream[:-1], stream[1:], fast=False)
    rng = np.random.default_rng(4)
    for name, param in lm.named_parameters():
        values = param.data.numpy()   # shares memory: central_difference perturbs the parameter

        def loss():
            with torch.no_grad():
                return float(cross_entropy(lm(tokens)[0], targets))
        for index in [tuple(int(i) for i in rng.integers(0, values.shape))]:
            fd = central_difference(loss, values, index, 1e-6)
            assert abs(grads[name][index] - fd) <= 1e-6 + 1e-5 * abs(fd), f"{name}{index}: {grads[name][index]} vs {fd}"
