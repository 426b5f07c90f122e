"""Our runtime vs ONNX Runtime (CPU, one thread), side by side per group
(docs/ONNX.md, benchmarks/RESULTS.md §6):

- the whole default model (ModelConfig(): MAL, delta, short convolution,
  rotary positions; heads d/16) exported by hecate_edge.onnx, at d = 64, 128,
  256: `process` of a 16-token chunk in one call, and `step` as 16 one-token
  calls, the state handed on between calls in both runtimes;
- the ops: hecate_edge.ops.<rule> on one (batch, head) slice of 16 tokens from
  the initial state vs hecate_edge.onnx.op_graph of the same recurrence (MATH §3).

Skipped when onnxruntime is not installed. Implementations are named
`hecate_c` and `onnxruntime` in every group (tools/bench_table.py --baseline onnxruntime).
"""
import functools

import numpy as np
import pytest
from conftest import CHUNK, SEED

from hecate_edge import ops
from hecate_edge.config import ModelConfig
from hecate_edge.format import write_model
from hecate_edge.reference.init import init_params
from hecate_edge.reference.rules import rule_by_name
from hecate_edge.runtime import Model

ort = pytest.importorskip("onnxruntime")
hecate_onnx = pytest.importorskip("hecate_edge.onnx")

WIDTHS = (64, 128, 256)
OP_RULES = {"delta": ("alpha", "theta"), "titans": ("alpha", "theta", "eta")}
OP_GATES = {"alpha": 0.05, "theta": 0.5, "eta": 0.8}  # after their activations (docs/OPS.md)


def ort_session(proto) -> "ort.InferenceSession":
    """ONNX Runtime on the CPU, one thread, every graph optimization on."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])


@functools.cache
def model_file(d: int) -> bytes:
    cfg = ModelConfig(d_model=d, n_heads=d // 16)
    return write_model(cfg, init_params(cfg, seed=SEED), dtype="f32")


def tokens() -> np.ndarray:
    return (np.arange(CHUNK) * 37 + 11) % 256


def _hecate_process(d):
    session = Model(model_file(d)).session(max_chunk=CHUNK)
    chunk = tokens().astype(np.uint32)
    return lambda: session.process(chunk)


def _hecate_step(d):
    session = Model(model_file(d)).session(max_chunk=CHUNK)
    chunk = [int(t) for t in tokens()]
    return lambda: [session.step(t) for t in chunk]


def _ort_caller(d, split: int):
    """Feeds the chunk in calls of `split` tokens, each call's state outputs the next one's inputs."""
    graph = ort_session(hecate_onnx.export(model_file(d)))
    state = hecate_onnx.initial_state(model_file(d))
    names = list(state)
    pieces = np.split(tokens().astype(np.int64), CHUNK // split)

    def call():
        nonlocal state
        out = []
        for piece in pieces:
            logits, *new = graph.run(None, {"tokens": piece, **state})
            state = dict(zip(names, new))
            out.append(logits)
        return out
    return call


MODEL_IMPLS = {
    "process": {"hecate_c": _hecate_process, "onnxruntime": lambda d: _ort_caller(d, CHUNK)},
    "step": {"hecate_c": _hecate_step, "onnxruntime": lambda d: _ort_caller(d, 1)},
}


@pytest.mark.parametrize("impl", ["hecate_c", "onnxruntime"])
@pytest.mark.parametrize("mode", ["process", "step"])
@pytest.mark.parametrize("d", WIDTHS)
def bench_model(benchmark, d, mode, impl):
    """One call = 16 tokens of the default model, streaming (state kept across calls)."""
    call = MODEL_IMPLS[mode][impl](d)
    call()  # fill the attention window before timing
    benchmark.group = f"model d={d} {mode}"
    benchmark.extra_info.update(implementation=impl, kind="forward", d_model=d, tokens_per_call=CHUNK)
    benchmark(call)


def op_inputs(rule: str, d: int) -> dict:
    rng = np.random.default_rng(SEED)
    q, k, v = (rng.normal(size=(1, 1, CHUNK, d)).astype(np.float32) for _ in range(3))
    k /= np.linalg.norm(k, axis=-1, keepdims=True)
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    gates = {name: np.full((1, 1, CHUNK), OP_GATES[name], np.float32) for name in OP_RULES[rule]}
    return {"q": q, "k": k, "v": v, **gates}


def _hecate_op(rule, d):
    inputs = op_inputs(rule, d)
    gates = {g: inputs[g] for g in OP_RULES[rule]}
    return lambda: ops.run(rule, inputs["q"], inputs["k"], inputs["v"], gates)


def _ort_op(rule, d):
    graph = ort_session(hecate_onnx.op_graph(rule, d))
    feed = {name: value[0, 0] for name, value in op_inputs(rule, d).items()}
    feed["state"] = rule_by_name(rule).init_state(d, {}).astype(np.float32)
    return lambda: graph.run(None, feed)


@pytest.mark.parametrize("impl", ["hecate_c", "onnxruntime"])
@pytest.mark.parametrize("rule", sorted(OP_RULES))
@pytest.mark.parametrize("d", WIDTHS)
def bench_op(benchmark, d, rule, impl):
    """One call = the rule's recurrence over 16 tokens of one (batch, head) slice from its
    initial state, returning the outputs and the final state (the same work every call)."""
    call = (_hecate_op if impl == "hecate_c" else _ort_op)(rule, d)
    call()
    benchmark.group = f"op {rule} d={d}"
    benchmark.extra_info.update(implementation=impl, kind="forward", d_model=d, rule=rule, tokens_per_call=CHUNK)
    benchmark(call)
