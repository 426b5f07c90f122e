"""Where the CUDA backend cannot run (no libhecate_cuda built, as in CI), asking
for it gives a RuntimeError that says why and how to build it; the CPU paths
are untouched.  Runs everywhere (tests/test_cuda.py needs a GPU)."""
import numpy as np
import pytest

from hecate_edge import cuda, ops
from rule_inputs import rule_inputs


@pytest.fixture
def no_cuda_library(tmp_path, monkeypatch):
    """The CUDA binding looking for libhecate_cuda in an empty folder."""
    monkeypatch.setattr(cuda, "lib_dir", lambda: tmp_path)
    cuda._binding.cache_clear()
    cuda._ready.cache_clear()
    yield
    cuda._binding.cache_clear()
    cuda._ready.cache_clear()


def test_a_missing_library_is_explained(no_cuda_library):
    reason = cuda.unavailable_reason()
    assert reason is not None and "-DHECATE_CUDA=ON" in reason
    with pytest.raises(RuntimeError, match="the CUDA backend is not built") as err:
        cuda.device_name()
    assert isinstance(err.value, cuda.CudaUnavailable)


def test_ops_on_cuda_raise_it_and_the_cpu_still_runs(no_cuda_library):
    q, k, v, gates, dy, _ = rule_inputs("delta", 1, 1, 3, 4)
    with pytest.raises(cuda.CudaUnavailable):
        ops.run("delta", q, k, v, gates, backend="cuda")
    with pytest.raises(cuda.CudaUnavailable):
        ops.backward("delta", q, k, v, gates, dy, backend="cuda")
    with pytest.raises(cuda.CudaUnavailable):
        ops.run("delta", q, k, v, gates, backend="cuda-chunk")
    with pytest.raises(ValueError, match="backend must be one of"):
        ops.run("delta", q, k, v, gates, backend="gpu")
    out, state = ops.run("delta", q, k, v, gates)
    assert out.shape == q.shape and np.isfinite(state).all()


def test_session_batches_take_only_whole_model_backends():
    """"cuda-chunk" is a form of the rule ops, not a session backend: refused, not run on the CPU."""
    from hecate_edge.batch import session_batch

    with pytest.raises(ValueError, match="backend must be one of"):
        session_batch(None, 1, backend="cuda-chunk")
