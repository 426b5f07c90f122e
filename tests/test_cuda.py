"""The CUDA backend (libhecate_cuda, docs/CUDA.md) against the C CPU runtime:
ops.run / ops.backward with backend="cuda" vs backend="cpu" in float32, for
outputs, final states and every gradient, over batches of sequences, widths
padded inside the kernels and T that no tile divides; whole-model session
batches vs C runtime sessions on the same model file; and the errors it
gives for what it does not implement.  Skipped, with the reason, where the
library is not built or no GPU is present (CI): run on a GPU machine."""
import numpy as np
import pytest

from hecate_edge import cuda, ops
from hecate_edge.config import LEGACY_OFF, ModelConfig
from hecate_edge.reference.init import init_params
from hecate_edge.runtime import HecateError, Model
from hecate_edge.train import model_bytes
from parity import assert_close
from rule_inputs import rule_inputs

_REASON = cuda.unavailable_reason()
pytestmark = pytest.mark.skipif(_REASON is not None, reason=f"CUDA backend unavailable: {_REASON}")

REL = 1e-4  # float32, different summation orders over up to T * d terms
# (B, H, T, d): T = 1, T inside one tile, T past several tiles and no multiple of 16; d padded to 16/32/64/128
# (at 128 and few sequences a sequence's columns split over four blocks: d = 100 leaves the last part padding)
SHAPES = [(1, 1, 1, 16), (2, 3, 37, 24), (3, 2, 50, 64), (1, 2, 33, 128), (2, 1, 20, 100), (2, 1, 17, 7)]
FORWARD_CASES = [("delta", None), ("titans", None), ("hebbian", None), ("atlas", {"window": 4}),
                 ("atlas", {"window": 1})]
BACKWARD_CASES = [("delta", None), ("titans", None), ("hebbian", None), ("atlas", {"window": 4}),
                  ("atlas", {"window": 1})]


def _id(shape):
    return "x".join(map(str, shape))


@pytest.mark.parametrize("shape", SHAPES, ids=_id)
@pytest.mark.parametrize("rule,params", FORWARD_CASES, ids=lambda x: str(x) if x else "")
def test_forward_matches_the_c_runtime(rule, params, shape):
    q, k, v, gates, _, state = rule_inputs(rule, *shape, seed=1, params=params)
    for initial in (None, state):
        want_o, want_s = ops.run(rule, q, k, v, gates, initial_state=initial, params=params)
        got_o, got_s = ops.run(rule, q, k, v, gates, initial_state=initial, params=params, backend="cuda")
        assert_close(got_o, want_o, REL, f"{rule} output")
        assert_close(got_s, want_s, REL, f"{rule} final state")


@pytest.mark.parametrize("shape", SHAPES, ids=_id)
@pytest.mark.parametrize("rule,params", BACKWARD_CASES, ids=lambda x: str(x) if x else "")
def test_backward_matches_the_c_backward(rule, params, shape):
    q, k, v, gates, dy, state = rule_inputs(rule, *shape, seed=2, params=params)
    want = ops.backward(rule, q, k, v, gates, dy, initial_state=state, params=params)
    got = ops.backward(rule, q, k, v, gates, dy, initial_state=state, params=params, backend="cuda")
    assert sorted(got) == sorted(want)
    for name in want:
        assert_close(got[name], want[name], REL, f"{rule} d{name}")


# padded to 128: a sequence split over four blocks below 128 sequences, one block from there
@pytest.mark.parametrize("n_seq", [127, 128])
@pytest.mark.parametrize("rule,params", [("delta", None), ("titans", None), ("atlas", {"window": 3})],
                         ids=lambda x: str(x) if x else "")
def test_both_block_layouts_at_width_128(rule, params, n_seq):
    q, k, v, gates, dy, state = rule_inputs(rule, n_seq, 1, 18, 100, seed=7, params=params)
    want_o, want_s = ops.run(rule, q, k, v, gates, initial_state=state, params=params)
    got_o, got_s = ops.run(rule, q, k, v, gates, initial_state=state, params=params, backend="cuda")
    assert_close(got_o, want_o, REL, f"{rule} output")
    assert_close(got_s, want_s, REL, f"{rule} final state")
    want = ops.backward(rule, q, k, v, gates, dy, initial_state=state, params=params)
    got = ops.backward(rule, q, k, v, gates, dy, initial_state=state, params=params, backend="cuda")
    for name in want:
        assert_close(got[name], want[name], REL, f"{rule} d{name}")


def test_many_sessions_in_one_launch():
    """B = 64 sessions x H = 4 heads, each its own state: every one matches its CPU run."""
    q, k, v, gates, _, state = rule_inputs("titans", 64, 4, 40, 64, seed=5)
    want_o, want_s = ops.run("titans", q, k, v, gates, initial_state=state)
    got_o, got_s = ops.titans(q, k, v, initial_state=state, backend="cuda", **gates)
    for b in (0, 31, 63):
        assert_close(got_o[b], want_o[b], REL, f"session {b} output")
        assert_close(got_s[b], want_s[b], REL, f"session {b} state")


def test_splitting_time_hands_the_state_on():
    q, k, v, gates, _, _ = rule_inputs("delta", 2, 2, 40, 32, seed=6)
    whole, s_whole = ops.run("delta", q, k, v, gates, backend="cuda")
    first = {n: g[:, :, :23] for n, g in gates.items()}
    rest = {n: g[:, :, 23:] for n, g in gates.items()}
    o1, s1 = ops.run("delta", q[:, :, :23], k[:, :, :23], v[:, :, :23], first, backend="cuda")
    o2, s2 = ops.run("delta", q[:, :, 23:], k[:, :, 23:], v[:, :, 23:], rest, initial_state=s1, backend="cuda")
    assert_close(np.concatenate([o1, o2], axis=2), whole, 1e-6, "split output")
    assert_close(s2, s_whole, 1e-6, "split state")


# the chunked forms: T inside one chunk of 16, on a chunk's edge, past several; each padded width
# (an odd width padded to 128: the tensor-core kernel's element-wise writes of y)
CHUNK_SHAPES = SHAPES + [(2, 2, 32, 64), (1, 2, 200, 128), (3, 1, 97, 48), (1, 2, 21, 101)]


@pytest.mark.parametrize("shape", CHUNK_SHAPES, ids=_id)
@pytest.mark.parametrize("rule", ["delta", "hebbian"])
def test_chunked_forward_matches_the_c_runtime(rule, shape):
    q, k, v, gates, _, state = rule_inputs(rule, *shape, seed=11)
    for initial in (None, state):
        want_o, want_s = ops.run(rule, q, k, v, gates, initial_state=initial)
        got_o, got_s = ops.run(rule, q, k, v, gates, initial_state=initial, backend="cuda-chunk")
        assert_close(got_o, want_o, REL, f"{rule} chunked output")
        assert_close(got_s, want_s, REL, f"{rule} chunked final state")


@pytest.mark.parametrize("shape", CHUNK_SHAPES, ids=_id)
@pytest.mark.parametrize("rule", ["delta", "hebbian"])
def test_chunked_backward_matches_the_c_backward(rule, shape):
    q, k, v, gates, dy, state = rule_inputs(rule, *shape, seed=14)
    want = ops.backward(rule, q, k, v, gates, dy, initial_state=state)
    got = ops.backward(rule, q, k, v, gates, dy, initial_state=state, backend="cuda-chunk")
    assert sorted(got) == sorted(want)
    for name in want:
        assert_close(got[name], want[name], REL, f"{rule} chunked d{name}")


def test_chunked_backward_at_extreme_decay():
    """Every other token keeps 1e-3 of the state, two keep 1e-5 and two nothing: the gradients
    match the C backward's, d alpha also token by token where 1 - alpha is tiny (summed where
    nothing cancels), except where alpha = 1 (the e^-80 floor): 0 there."""
    q, k, v, gates, dy, state = rule_inputs("delta", 2, 1, 70, 32, seed=15)
    gates["alpha"][:, :, 5::2] = 0.999
    gates["alpha"][:, :, [11, 33]] = 1.0 - 1e-5
    gates["alpha"][:, :, [20, 45]] = 1.0
    want = ops.backward("delta", q, k, v, gates, dy, initial_state=state)
    got = ops.backward("delta", q, k, v, gates, dy, initial_state=state, backend="cuda-chunk")
    near = [11, 33]
    np.testing.assert_allclose(got["alpha"][:, :, near], want["alpha"][:, :, near], rtol=1e-3)
    assert np.all(got["alpha"][:, :, [20, 45]] == 0.0)
    for g in (got, want):
        g["alpha"][:, :, [20, 45]] = 0.0
    for name in want:
        assert np.isfinite(got[name]).all()
        assert_close(got[name], want[name], REL, f"d{name}")


@pytest.mark.parametrize("alpha", [0.999, 1.0], ids=["strong-decay", "forget-all"])
def test_chunked_forward_at_extreme_decay(alpha):
    """Every other token keeps 1e-3 of the state (a chunk's decay reaches 1e-48, below float32's
    range) or nothing (log 0, floored): finite, and equal to the token-by-token result."""
    q, k, v, gates, _, state = rule_inputs("delta", 2, 1, 70, 32, seed=12)
    gates["alpha"][:, :, 5::2] = alpha
    want_o, want_s = ops.run("delta", q, k, v, gates, initial_state=state)
    got_o, got_s = ops.run("delta", q, k, v, gates, initial_state=state, backend="cuda-chunk")
    assert np.isfinite(got_o).all() and np.isfinite(got_s).all()
    assert_close(got_o, want_o, REL, "output")
    assert_close(got_s, want_s, REL, "final state")


@pytest.mark.parametrize("width", [32, 128], ids=["d32", "d128"])
def test_chunked_forward_passes_nan_on(width):
    """alpha > 1 (no sigmoid gives it) makes log(1 - alpha) NaN: the reads from that token on and
    the final state are NaN, never a silent "forget all"; the tensor cores' operand split keeps it."""
    q, k, v, gates, _, state = rule_inputs("delta", 1, 1, 40, width, seed=16)
    gates["alpha"][:, :, 3] = 1.5
    got_o, got_s = ops.run("delta", q, k, v, gates, initial_state=state, backend="cuda-chunk")
    assert np.isfinite(got_o[:, :, :3]).all()
    assert np.isnan(got_o[:, :, 3:]).all() and np.isnan(got_s).all()


@pytest.mark.parametrize("width", [32, 128], ids=["d32", "d128"])
def test_chunked_backward_keeps_a_nan_in_its_sequence_and_chunks(width):
    """A NaN in one sequence's dy (token 20, value column 3; the second chunk of 16) reaches only
    what depends on it: in that sequence's chunks up to it, dv's column 3 at every token (the
    chunk's dU, then dS0 carrying it back, docs/CUDA.md "Chunked backward"; each value column is its
    own regression, so dv's other columns stay finite) and dq at token 20; its tokens after that
    chunk and every other sequence keep the clean run's bits, so one bad row cannot poison a batch."""
    q, k, v, gates, dy, state = rule_inputs("delta", 2, 2, 50, width, seed=17)
    clean = ops.backward("delta", q, k, v, gates, dy, initial_state=state, backend="cuda-chunk")
    dy[0, 1, 20, 3] = np.nan
    got = ops.backward("delta", q, k, v, gates, dy, initial_state=state, backend="cuda-chunk")
    dv = got["v"][0, 1, :32]
    assert np.isnan(dv[:, 3]).all() and np.isfinite(np.delete(dv, 3, axis=-1)).all()
    assert np.isnan(got["q"][0, 1, 20]).all()
    for name in clean:
        hit = np.zeros(clean[name].shape[:3], bool)
        hit[0, 1, :32] = True
        assert np.array_equal(got[name][~hit], clean[name][~hit]), f"d{name} changed outside the NaN's reach"


def test_chunked_forward_over_many_sequences_at_width_128():
    """1024 sequences (a grid of 4096 scan blocks and 1024 x 4 prep blocks): every one matches."""
    q, k, v, gates, _, state = rule_inputs("delta", 256, 4, 40, 128, seed=13)
    want_o, want_s = ops.run("delta", q, k, v, gates, initial_state=state, backend="cuda")
    got_o, got_s = ops.run("delta", q, k, v, gates, initial_state=state, backend="cuda-chunk")
    assert_close(got_o, want_o, REL, "output")
    assert_close(got_s, want_s, REL, "final state")


def test_chunked_forward_refuses_what_it_does_not_run():
    q, k, v, gates, dy, _ = rule_inputs("titans", 1, 1, 4, 8)
    with pytest.raises(HecateError, match="chunked forward runs the delta and hebbian rules") as err:
        ops.run("titans", q, k, v, gates, backend="cuda-chunk")
    assert err.value.name == "HECATE_E_UNSUPPORTED"
    with pytest.raises(HecateError, match="chunked forward runs the delta and hebbian rules"):
        ops.backward("titans", q, k, v, gates, dy, backend="cuda-chunk")
    q, k, v, gates, _, state = rule_inputs("delta", 1, 1, 5, 16)
    state[0, 0, 2, 2] = np.inf
    with pytest.raises(HecateError) as err:
        ops.run("delta", q, k, v, gates, initial_state=state, backend="cuda-chunk")
    assert err.value.name == "HECATE_E_NONFINITE"


@pytest.mark.parametrize("rule,kwargs,words", [
    ("moneta", {}, "rule id 3 is not implemented on CUDA"),
    ("delta", {"retention": "elastic_net"}, "retention id 3 is not implemented on CUDA"),
    ("atlas", {"params": {"ns_steps": 2}}, "ns_steps > 0"),
])
def test_unsupported_forwards_are_refused_by_name(rule, kwargs, words):
    q, k, v, gates, _, _ = rule_inputs(rule, 1, 1, 4, 8, params=kwargs.get("params"))
    with pytest.raises(HecateError, match=words) as err:
        ops.run(rule, q, k, v, gates, backend="cuda", **kwargs)
    assert err.value.name == "HECATE_E_UNSUPPORTED"


def test_unsupported_width_is_refused_forward_and_backward():
    q, k, v, gates, dy, _ = rule_inputs("delta", 1, 1, 2, 129)
    with pytest.raises(HecateError, match="d <= 128"):
        ops.run("delta", q, k, v, gates, backend="cuda")
    with pytest.raises(HecateError, match="d <= 128"):
        ops.backward("delta", q, k, v, gates, dy, backend="cuda")


def test_bad_input_gives_a_status_not_a_crash():
    q, k, v, gates, _, state = rule_inputs("delta", 1, 2, 5, 16)
    state[0, 1, 3, 3] = np.nan
    with pytest.raises(HecateError) as err:
        ops.run("delta", q, k, v, gates, initial_state=state, backend="cuda")
    assert err.value.name == "HECATE_E_NONFINITE"
    with pytest.raises(ValueError, match="float32"):
        ops.run("delta", q.astype(np.float64), k, v, gates, backend="cuda")


def test_device_is_named():
    assert "sm_" in cuda.device_name()


# ---- whole-model sessions: a CUDA batch vs C runtime sessions on the same file ----

MODEL_CASES = [("delta", 64, 4, ()), ("titans", 32, 2, ()), ("hebbian", 16, 1, ()), ("atlas", 48, 4, (3, 0))]


def make_model(rule, d, heads, rule_params=(), composition="mag", precision="f32", layers=1, quantize=None,
               **features):
    """A fresh plain model (no optional feature: what the CUDA kernels run) whose memory
    writes hard (theta = softplus(0) where the rule has it), window 8; ``features``: other
    ModelConfig fields (e.g. bounded_steps=True)."""
    cfg = ModelConfig(d_model=d, n_heads=heads, window=8, rule=rule, rule_params=rule_params, n_layers=layers,
                      **{**LEGACY_OFF, "composition": composition, **features})
    params = {name: np.array(array) for name, array in init_params(cfg, seed=0).items()}
    params["blk0.mem0.gate_b"][1:2] = 0.0
    return Model(model_bytes(cfg, params, dtype=precision, quantize=quantize), precision=precision)


def assert_batches_agree(gpu, cpu, tokens, what):
    assert_close(gpu.process(tokens), cpu.process(tokens), REL, f"{what} logits")
    for s in range(cpu.n_sessions):
        assert_close(gpu.memory(s), cpu.memory(s), REL, f"{what} session {s} memory")
        assert gpu.position(s) == cpu.position(s)


@pytest.mark.parametrize("rule,d,heads,rule_params", MODEL_CASES, ids=[c[0] for c in MODEL_CASES])
def test_model_sessions_match_the_c_runtime(rule, d, heads, rule_params):
    """5 sessions, 45 tokens in blocks of 16 (window 8 wraps inside and across blocks),
    then more tokens, then one session reset while the others go on."""
    model = make_model(rule, d, heads, rule_params)
    gpu = model.session_batch(5, backend="cuda", max_chunk=16)
    cpu = model.session_batch(5, backend="cpu", max_chunk=16)
    rng = np.random.default_rng(7)
    assert_batches_agree(gpu, cpu, rng.integers(0, 256, (5, 45)), f"{rule} first call")
    assert_batches_agree(gpu, cpu, rng.integers(0, 256, (5, 7)), f"{rule} second call")
    gpu.reset(2)
    cpu.reset(2)
    assert_batches_agree(gpu, cpu, rng.integers(0, 256, (5, 20)), f"{rule} after a reset")


@pytest.mark.parametrize("kwargs,words", [
    ({"composition": "mal"}, "composition id 1 is not implemented on CUDA"),
    ({"rule": "moneta"}, "rule id 3 is not implemented on CUDA"),
    ({"d": 256}, "d <= 128"),
    ({"layers": 2}, "one layer with one memory level"),
    ({"quantize": "int8"}, "int8 weights are not implemented on CUDA"),
    ({"quantize": "w8a16"}, "int8 weights are not implemented on CUDA"),
    ({"bounded_steps": True}, "header flags 0x11"),
    ({"conv_kernel": 4}, "short convolution .* is not implemented on CUDA"),
    ({"rope": True}, "rotary positions .* not implemented on CUDA"),
])
def test_unsupported_models_are_refused_by_name(kwargs, words):
    args = {"rule": "delta", "d": 32, "heads": 2, **kwargs}
    model = make_model(args.pop("rule"), args.pop("d"), args.pop("heads"), **args)
    with pytest.raises(HecateError, match=words) as err:
        model.session_batch(2, backend="cuda")
    assert err.value.name == "HECATE_E_UNSUPPORTED"


def test_model_sessions_check_their_input():
    model = make_model("delta", 32, 2)
    gpu = model.session_batch(2, backend="cuda")
    with pytest.raises(HecateError) as err:
        gpu.process(np.array([[1, 2], [3, 256]]))
    assert err.value.name == "HECATE_E_TOKEN_RANGE"
    assert gpu.position(0) == 0
    with pytest.raises(ValueError, match="shape"):
        gpu.process(np.zeros((3, 4), np.uint32))
    with pytest.raises(ValueError, match="float32"):
        make_model("delta", 32, 2, precision="f64").session_batch(1, backend="cuda")
