"""ONNX export (docs/ONNX.md): onnx.checker passes and onnxruntime's logits
and state equal the C runtime's (1e-5 RMS-relative, float32) over several
calls with the state handed on, for every rule x composition, CMS levels
with frequency gates, stacked blocks, the front end's switches and int8;
the state blob converts both ways; what is not covered is refused by name.
Skipped when onnxruntime is not installed (pip install '.[onnx]')."""
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from hecate_edge import cli  # noqa: E402
from hecate_edge import onnx as hecate_onnx  # noqa: E402
from hecate_edge.config import COMPOSITIONS as CONFIG_COMPOSITIONS  # noqa: E402
from hecate_edge.config import ModelConfig  # noqa: E402
from hecate_edge.errors import OnnxStateError, OnnxUnsupported  # noqa: E402
from hecate_edge.format import read_model, write_model  # noqa: E402
from hecate_edge.reference.init import init_params  # noqa: E402
from hecate_edge.runtime import Model  # noqa: E402
from conftest import RULE_CASES, lively_params, rule_config  # noqa: E402
from parity import assert_close  # noqa: E402

TOL = 1e-5                      # float32, as tests/test_parity.py
CALLS = (5, 17, 1, 30)          # token counts of the calls, the state handed on between them
SMALL = ModelConfig(vocab=64, d_model=16, n_heads=2, window=4)
COMPOSITIONS = tuple(CONFIG_COMPOSITIONS)


def ort_session(proto):
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    return ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])


def check_parity(data: bytes, calls=CALLS, seed: int = 0, states: bool = True):
    """Export `data`, run it call after call in onnxruntime and in the C runtime;
    logits and (unless `states` is False) every state tensor must agree; returns
    (ONNX model, final state)."""
    proto = hecate_onnx.export(data)
    onnx.checker.check_model(proto, full_check=True)
    graph, runtime = ort_session(proto), Model(data).session()
    state = hecate_onnx.initial_state(data)
    names = list(state)
    assert [i.name for i in graph.get_inputs()] == ["tokens", *names]
    assert [o.name for o in graph.get_outputs()] == ["logits", *(f"{n}_out" for n in names)]
    rng = np.random.default_rng(seed)
    vocab = Model(data).config.vocab
    for count in calls:
        tokens = rng.integers(0, vocab, count)
        logits, *outs = graph.run(None, {"tokens": tokens, **state})
        state = dict(zip(names, outs))
        assert_close(logits, runtime.process(tokens), TOL, f"logits after {count} tokens")
        if not states:
            continue
        expected = hecate_onnx.state_from_blob(data, runtime.save_state())
        for name in names:
            assert_close(state[name], expected[name], TOL, name)
    return proto, state


def model_file(cfg: ModelConfig, seed: int = 0, **kwargs) -> bytes:
    return write_model(cfg, lively_params(cfg, seed), dtype="f32", **kwargs)


def test_default_model_matches_runtime_over_calls():
    cfg = ModelConfig()
    for params in (init_params(cfg, 0), lively_params(cfg, 1)):
        check_parity(write_model(cfg, params, dtype="f32"), calls=(5, 17, 1, 30, 64))


def test_trained_demo_model_over_1024_tokens():
    """The trained model of the demo page (wasm/demo/micro.hct), 16 calls of 64 tokens."""
    check_parity((Path(__file__).resolve().parent.parent / "wasm" / "demo" / "micro.hct").read_bytes(),
                 calls=[64] * 16)


@pytest.mark.parametrize("composition", COMPOSITIONS)
@pytest.mark.parametrize("case", RULE_CASES)
def test_every_rule_and_composition(case, composition):
    check_parity(model_file(replace(rule_config(SMALL, case), composition=composition)))


@pytest.mark.parametrize("case", RULE_CASES)
def test_cms_levels_with_frequency_gates(case):
    """k = 2, period 3, a gate that opens and shuts (freq_b = 0, MATH §6.2)."""
    composition = COMPOSITIONS[RULE_CASES.index(case) % len(COMPOSITIONS)]
    cfg = replace(rule_config(SMALL, case), composition=composition, n_levels=2, periods=(1, 3), freq_gates=True)
    params = lively_params(cfg, 0)
    params["blk0.mem1.freq_b"] = np.zeros(1)
    check_parity(write_model(cfg, params, dtype="f32"))


@pytest.mark.parametrize("cfg", [
    replace(SMALL, n_levels=3, periods=(1, 2, 4), composition="mac"),
    replace(SMALL, n_levels=4, periods=(1, 2, 3, 5), rule="titans", composition="mag"),
    replace(SMALL, n_levels=2, periods=(1, 8)),
    replace(SMALL, n_layers=2),
    replace(SMALL, n_layers=3, n_levels=2, periods=(1, 3), composition="mac"),
    replace(SMALL, n_layers=4, composition="mag"),
    replace(SMALL, conv_kernel=0), replace(SMALL, conv_kernel=2), replace(SMALL, conv_kernel=8), replace(SMALL, rope=False),
    replace(SMALL, qk_norm=False), replace(SMALL, bounded_steps=False), replace(SMALL, window=1),
    ModelConfig(vocab=32, d_model=12, n_heads=3, window=3),   # odd head width: no rotary positions
], ids=lambda c: f"{c.composition}-k{c.n_levels}-L{c.n_layers}-conv{c.conv_kernel}-rope{int(c.rope)}"
                 f"-norm{int(c.qk_norm)}-b{int(c.bounded_steps)}-w{c.window}-d{c.d_model}")
def test_levels_layers_and_front_end_switches(cfg):
    check_parity(model_file(cfg))


@pytest.mark.parametrize("cfg", [ModelConfig(), replace(SMALL, composition="mac", n_levels=2, periods=(1, 2))],
                         ids=["default", "mac-k2"])
def test_int8_stays_int8(cfg):
    data = model_file(cfg, quantize="int8")
    proto, _ = check_parity(data)
    assert any(node.op_type == "DequantizeLinear" for node in proto.graph.node)
    stored = {i.name: onnx.numpy_helper.to_array(i) for i in proto.graph.initializer}
    for entry in read_model(data)[2]["tensors"]:  # the file's own int8 values and row scales, bit for bit
        if entry["dtype"] == "i8":
            rows, offset = entry["shape"][0], entry["offset"]
            scales = np.frombuffer(data, "<f4", rows, offset)
            values = np.frombuffer(data, np.int8, rows * entry["shape"][1], offset + 4 * rows)
            name = entry["name"]
            assert [v.tobytes() for k, v in stored.items() if k.startswith(f"k_{name}.q_")] == [values.tobytes()]
            assert [v.tobytes() for k, v in stored.items() if k.startswith(f"k_{name}.scale_")] == [scales.tobytes()]
    float_size = len(hecate_onnx.export(model_file(cfg)).SerializeToString())
    if cfg == ModelConfig():
        assert len(proto.SerializeToString()) < 0.35 * float_size


def test_state_blob_round_trip_both_ways():
    """C blob -> tensors -> blob is the same bytes; the graph's state resumes a C session."""
    data = model_file(replace(SMALL, composition="mac", n_levels=2, periods=(1, 3), freq_gates=True))
    runtime = Model(data).session()
    runtime.process(np.arange(11) % 64)
    blob = runtime.save_state()
    assert hecate_onnx.state_to_blob(data, hecate_onnx.state_from_blob(data, blob)) == blob
    _, state = check_parity(data)
    resumed = Model(data).session()
    resumed.load_state(hecate_onnx.state_to_blob(data, state))
    replay = Model(data).session()
    replay.process(np.random.default_rng(0).integers(0, 64, sum(CALLS)))  # check_parity's tokens
    tokens = np.arange(9)
    assert_close(resumed.process(tokens), replay.process(tokens), TOL, "resumed from the graph's state")


def test_initial_state_is_a_fresh_session():
    data = model_file(ModelConfig())
    fresh = hecate_onnx.state_from_blob(data, Model(data).session().save_state())
    for name, value in hecate_onnx.initial_state(data).items():
        np.testing.assert_array_equal(value, fresh[name], err_msg=name)


def test_refusals_are_named(monkeypatch):
    data = model_file(SMALL)
    with pytest.raises(OnnxUnsupported) as err:
        hecate_onnx.export(write_model(SMALL, lively_params(SMALL, 0), dtype="f64"))
    assert err.value.name == "ONNX_UNSUPPORTED_DTYPE"
    with pytest.raises(OnnxUnsupported, match="int16 activations") as err:  # MATH §1.1 has no ONNX graph
        hecate_onnx.export(model_file(SMALL, quantize="w8a16"))
    assert err.value.name == "ONNX_UNSUPPORTED_DTYPE"
    from hecate_edge.onnx import rules
    monkeypatch.delitem(rules.RULE_GRAPHS, "delta")
    with pytest.raises(OnnxUnsupported) as err:
        hecate_onnx.export(data)
    assert err.value.name == "ONNX_UNSUPPORTED_RULE"
    state = hecate_onnx.initial_state(data)
    with pytest.raises(OnnxStateError, match="lacks"):
        hecate_onnx.state_to_blob(data, {k: v for k, v in state.items() if k != "position"})
    with pytest.raises(OnnxStateError, match="another model"):
        hecate_onnx.state_from_blob(model_file(SMALL, seed=1), hecate_onnx.state_to_blob(data, state))


def test_cli_export_onnx(tmp_path, capsys):
    source, out = tmp_path / "m.hct", tmp_path / "m.onnx"
    source.write_bytes(model_file(SMALL))
    assert cli.main(["export", str(source), "--format", "onnx", "--out", str(out)]) == 0
    graph = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    state = hecate_onnx.initial_state(source)
    tokens = np.arange(6)
    expected = Model(source.read_bytes()).session().process(tokens)
    assert_close(graph.run(["logits"], {"tokens": tokens, **state})[0], expected, TOL, "logits")
    assert cli.main(["export", str(source), "--format", "onnx", "--dtype", "f64", "--out", str(out)]) == 2
    assert "float32" in capsys.readouterr().err


@pytest.mark.parametrize("rule", ["delta", "titans", "atlas", "lattice", "memora"])
def test_op_graph_matches_the_op(rule):
    """hecate_edge.onnx.op_graph: the rule alone (docs/OPS.md) against hecate_edge.ops, state handed on."""
    from hecate_edge import ops
    from hecate_edge.reference.rules import resolve_params, rule_by_name
    module, d = rule_by_name(rule), 16
    rng = np.random.default_rng(0)
    graph = ort_session(hecate_onnx.op_graph(rule, d))
    hp = dict(zip(module.PARAM_NAMES, resolve_params(module, d)))
    state = ours = module.init_state(d, hp).astype(np.float32)
    for count in (7, 1, 12):
        q, k, v = (rng.normal(size=(1, 1, count, d)).astype(np.float32) for _ in range(3))
        k /= np.linalg.norm(k, axis=-1, keepdims=True)
        gates = {name: rng.uniform(0.05, 0.6, (1, 1, count)).astype(np.float32) for name, _ in module.GATES}
        want, ours = ops.run(rule, q, k, v, gates, initial_state=ours[None, None])
        ours = ours[0, 0]
        got, state = graph.run(None, {"state": state, "q": q[0, 0], "k": k[0, 0], "v": v[0, 0],
                                      **{name: g[0, 0] for name, g in gates.items()}})
        assert_close(got, want[0, 0], TOL, "o")
        assert_close(state, ours, TOL, "state")


def test_an_empty_call_passes_the_state_through():
    data = model_file(SMALL)
    graph = ort_session(hecate_onnx.export(data))
    state = hecate_onnx.initial_state(data)
    names = list(state)
    _, *outs = graph.run(None, {"tokens": np.arange(5), **state})
    state = dict(zip(names, outs))
    logits, *outs = graph.run(None, {"tokens": np.zeros(0, np.int64), **state})
    assert logits.shape == (0, SMALL.vocab)
    for name, value in zip(names, outs):
        np.testing.assert_array_equal(value, state[name], err_msg=name)


def test_doc_example_runs(capsys):
    """docs/ONNX.md's example runs as written and prints what its comment says."""
    doc = Path(__file__).resolve().parent.parent / "docs" / "ONNX.md"
    for block in re.findall(r"```python\n(.*?)```", doc.read_text(), flags=re.S):
        exec(compile(block, "docs/ONNX.md python block", "exec"), {})
    assert capsys.readouterr().out.split() == ["(5,", "256)", "11", "11"]
