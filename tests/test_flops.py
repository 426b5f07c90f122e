"""tools/flops.py (the roofline table's FLOP counts, RESULTS.md §11) against
an independent count of its largest terms: the weight matrices a token goes
through, read off the model's own parameter shapes (init_params)."""
import importlib.util
from pathlib import Path

import pytest

from hecate_edge.config import ModelConfig
from hecate_edge.reference.init import init_params

_spec = importlib.util.spec_from_file_location("flops", Path(__file__).parent.parent / "tools" / "flops.py")
flops = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(flops)

PROJECTIONS = ("attn.wq", "attn.wk", "attn.wv", "attn.wo", "mem0.wk", "mem0.wv", "mem0.wq", "head")


@pytest.mark.parametrize("d", [64, 128, 256])
def test_projection_terms_match_the_parameter_shapes(d):
    cfg = ModelConfig(d_model=d, n_heads=d // 16)
    params = init_params(cfg, 0)
    matrices = [name for name in params if name.endswith(PROJECTIONS)]
    assert len(matrices) == len(PROJECTIONS)
    macs = sum(params[name].shape[0] * params[name].shape[1] for name in matrices)
    fwd = flops.forward_terms(d, d // 16)
    bwd = flops.backward_terms(d, d // 16)
    proj_fwd = sum(v for k, v in fwd.items() if "projection" in k or "head" in k)
    proj_bwd = sum(v for k, v in bwd.items() if "projection" in k or "head" in k)
    assert proj_fwd == 2 * macs  # x W: a multiply and an add per weight
    assert proj_bwd == 4 * macs  # dW += x^T dy and dx += dy W^T: twice the forward


@pytest.mark.parametrize("d", [64, 128, 256])
def test_delta_recurrence_terms(d):
    """MATH §3.2 forward: three passes over the d x d state (k S, the write
    with its two products and a subtract, q S'); §7 backward: seven."""
    fwd = flops.forward_terms(d, d // 16)
    bwd = flops.backward_terms(d, d // 16)
    quad = lambda terms: sum(v - v % (d * d) for k, v in terms.items() if "delta" in k)  # noqa: E731
    assert quad(fwd) == 7 * d * d
    assert quad(bwd) == 15 * d * d
    total = flops.flops_per_token(d)
    assert total["process"] == sum(fwd.values())
    assert total["train"] == sum(fwd.values()) + sum(bwd.values())


@pytest.mark.parametrize("d", [64, 128, 256])
def test_step_reads_every_weight_but_the_unused_embedding_rows(d):
    cfg = ModelConfig(d_model=d, n_heads=d // 16)
    params = init_params(cfg, 0)
    every = sum(v.size for v in params.values())
    assert flops.step_weight_floats(d) == every - (cfg.vocab - 1) * d
