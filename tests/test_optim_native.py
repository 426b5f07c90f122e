"""The runtime's outer-loop arithmetic (runtime_c/src/optim.c) against the
numpy reference: hecate_adamw_update against hecate_edge.optim.AdamW's numpy
update and hecate_grads_mean against a sequential float64 sum, bit for bit,
in both runtime builds; and their refusals."""
import numpy as np
import pytest

from hecate_edge import runtime
from hecate_edge.errors import HecateError
from hecate_edge.optim import AdamW
from hecate_edge.threads import Workers

SHAPES = {"w": (7, 5), "b": (5,), "emb": (3, 4)}


def _run(native: bool, dtype, steps: int = 12, workers=None) -> tuple[dict, dict]:
    rng = np.random.default_rng(3)
    params = {name: rng.standard_normal(shape).astype(dtype) for name, shape in SHAPES.items()}
    opt = AdamW(params, lr=3e-2, weight_decay=0.1, clip_norm=0.8, no_decay={"emb"}, native=native)
    opt.workers = workers
    for step in range(steps):
        grads = {name: rng.standard_normal(shape) * (0.05 if step % 3 else 2.0) for name, shape in SHAPES.items()}
        hold = {"b"} if step == 4 else set()  # a held gradient joins the next step's (MATH §6.1)
        opt.step(grads, lr=3e-2 * (1 + step) / steps, hold=hold)
    return params, opt.state_dict()


@pytest.mark.parametrize("threads", [0, 1, 3], ids=["one-by-one", "tasks-1-worker", "tasks-3-workers"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_native_adamw_is_the_numpy_update_bit_for_bit(dtype, threads):
    """Clipped and unclipped steps, decayed and undecayed tensors, a held gradient, a schedule;
    the C update called per tensor, or every tensor's as a task on worker threads (D81)."""
    with Workers(threads or 1) as workers:
        native, native_state = _run(True, dtype, workers=workers if threads else None)
    ref, ref_state = _run(False, dtype)
    for name in SHAPES:
        assert native[name].dtype == dtype
        np.testing.assert_array_equal(native[name], ref[name], err_msg=name)
    for key, value in ref_state.items():
        np.testing.assert_array_equal(native_state[key], value, err_msg=key)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_grads_mean_adds_in_order_in_float64(dtype):
    rng = np.random.default_rng(1)
    sets = [(rng.standard_normal(1001) * 10.0 ** rng.integers(-3, 4)).astype(dtype) for _ in range(5)]
    want = np.array(sets[0], np.float64)
    for s in sets[1:]:
        want += s
    want /= len(sets)
    np.testing.assert_array_equal(runtime.grads_mean(sets), want)
    np.testing.assert_array_equal(runtime.grads_mean(sets[:1]), sets[0].astype(np.float64))


def test_refusals_name_the_problem():
    p = np.zeros(4, np.float32)
    g = np.zeros(4)
    with pytest.raises(ValueError, match="grad must be a contiguous float64"):
        runtime.adamw_update(p, g.astype(np.float32), g.copy(), g.copy(), lr=1.0, decay=0.0, beta1=0.9, beta2=0.9,
                             eps=1e-8, bias1=0.1, bias2=0.1, grad_scale=1.0)
    with pytest.raises(ValueError, match="at least one"):
        runtime.grads_mean([])
    with pytest.raises(ValueError, match="one float dtype and length"):
        runtime.grads_mean([np.zeros(3, np.float32), np.zeros(4, np.float32)])


def test_c_entry_points_check_their_pointers():
    binding = runtime.load_library("f32")
    ffi, lib = binding.ffi, binding.lib
    out = np.zeros(2)
    assert lib.hecate_grads_mean(0, ffi.NULL, 2, ffi.from_buffer("double[]", out)) != 0
    assert lib.hecate_grads_mean(1, ffi.new("float *[]", [ffi.NULL]), 2, ffi.from_buffer("double[]", out)) != 0
    assert lib.hecate_adamw_update(ffi.NULL, 2, ffi.NULL, ffi.NULL, ffi.NULL, ffi.NULL) != 0
    with pytest.raises(HecateError):
        runtime.check(binding, lib.hecate_adamw_update(ffi.NULL, 2, ffi.NULL, ffi.NULL, ffi.NULL, ffi.NULL))
