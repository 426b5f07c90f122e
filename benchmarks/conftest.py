"""Workloads of the throughput sweep: model widths, the model files and the shared 16-token chunk.

Owns the workload side of the sweep (bench_throughput.py owns the implementations).
Models follow MATH §8 init (seed 42), exported as f32 files (docs/FORMAT.md).
"""
import os

# Single-threaded numbers: fix BLAS/OpenMP pools before numpy is first imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import functools  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from hecate_edge.config import ModelConfig  # noqa: E402
from hecate_edge.format import write_model  # noqa: E402
from hecate_edge.reference.init import init_params  # noqa: E402
from hecate_edge.reference.rules import RULES  # noqa: E402

CHUNK = 16          # tokens per call: the NL_Hecate edge workload
WINDOW = 16
VOCAB = 256
SEED = 42
# A fixed byte sequence of CHUNK + 1 tokens: inputs are [0..15], targets [1..16].
_SEQUENCE = np.frombuffer(b"hecate edge: tok", dtype=np.uint8).tolist() + [ord("s")]


@dataclass(frozen=True)
class Workload:
    """One row of the sweep: a model width and memory rule (heads = d/16, MAG)."""
    d_model: int
    rule: str = "delta"

    @property
    def group(self) -> str:
        return f"d={self.d_model}" + ("" if self.rule == "delta" else f" {self.rule}")

    def config(self) -> ModelConfig:
        return ModelConfig(vocab=VOCAB, d_model=self.d_model, n_heads=self.d_model // 16,
                           window=WINDOW, composition="mag", rule=self.rule)


# The edge workload (delta rule) at three widths, then every other rule at d = 64 and 128.
WORKLOADS = [Workload(64), Workload(128), Workload(256)] + [
    Workload(d, rule) for rule in sorted(RULES) if rule != "delta" for d in (64, 128)]


@functools.cache
def workload_params(workload: Workload) -> dict[str, np.ndarray]:
    """float64 initial parameters (MATH §8, seed 42) for the workload."""
    return init_params(workload.config(), seed=SEED)


@functools.cache
def workload_model_bytes(workload: Workload) -> bytes:
    """The workload's model file, tensors stored as f32."""
    return write_model(workload.config(), workload_params(workload), dtype="f32")


def chunk_cross_entropy(logits: np.ndarray, targets: np.ndarray) -> float:
    """Mean next-token cross-entropy of logits (T, V) against targets (T,) (MATH §5,
    all targets valid): the host-side loss the forward workloads compute."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=1))
    return float(np.mean(log_norm - shifted[np.arange(targets.size), targets]))


@pytest.fixture(params=WORKLOADS, ids=lambda w: w.group)
def workload(request) -> Workload:
    return request.param


@pytest.fixture(scope="session")
def chunk() -> tuple[np.ndarray, np.ndarray]:
    """(tokens, targets): 16 input tokens and their next tokens, as uint32."""
    seq = np.asarray(_SEQUENCE, dtype=np.uint32)
    assert seq.size == CHUNK + 1
    return seq[:-1].copy(), seq[1:].copy()


def pytest_benchmark_update_machine_info(config, machine_info):
    """Record which runtime build was measured in the JSON's machine_info."""
    from hecate_edge._lib import lib_dir, load_library

    machine_info["hecate_lib_dir"] = str(lib_dir())
    machine_info["hecate_isa"] = load_library("f32").isa  # the library build that ran (D79)
    machine_info["hecate_build_note"] = os.environ.get("HECATE_BENCH_BUILD", "")
    machine_info["thread_env"] = {v: os.environ.get(v) for v in (
        "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
