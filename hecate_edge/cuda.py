"""The CUDA backend's binding: libhecate_cuda (cuda/include/hecate_cuda.h)
through cffi, and the rule ops on numpy arrays that hecate_edge.ops runs
with backend="cuda" (docs/CUDA.md).

Owns loading the library (from the folder _lib.lib_dir names), telling why
it cannot run (no library built, no driver, no GPU: CudaUnavailable, a
RuntimeError), and moving arrays to and from the device around one rule call.  Math: MATH §3.2-§3.6,
the same as the C runtime's ops (hecate_rule_forward / hecate_rule_backward).
"""
from __future__ import annotations

import functools
from contextlib import contextmanager

import numpy as np

from ._lib import first_missing, lib_dir, library_filename, open_cffi, status_error

_STEM = "hecate_cuda"


class CudaUnavailable(RuntimeError):
    """The CUDA backend cannot run here; the message says why and how to get it."""


@functools.cache
def _binding():
    """(ffi, lib, status_names) of libhecate_cuda, loaded once; CudaUnavailable if it is not built."""
    folder = lib_dir()
    headers = [folder / "hecate.h", folder / "hecate_cuda.h"]
    path = folder / library_filename(_STEM)
    missing = first_missing(*headers, path)
    if missing is not None:
        raise CudaUnavailable(f"the CUDA backend is not built: {missing} is missing (configure CMake with "
                              f"-DHECATE_CUDA=ON, docs/CUDA.md)")
    try:
        return open_cffi(path, headers, "f32")
    except OSError as exc:
        raise CudaUnavailable(f"cannot load {path}: {exc}") from exc


def _check(status: int) -> None:
    """HecateError with the library's own detail for a non-zero status."""
    if status != 0:
        ffi, lib, names = _binding()
        detail = ffi.string(lib.hecate_cuda_last_error()).decode("utf-8", "replace")
        raise status_error(ffi, lib, names, status, detail)


@functools.cache
def _ready():
    """The binding once a GPU answered; CudaUnavailable (with the driver's reason) otherwise."""
    ffi, lib, names = _binding()
    if lib.hecate_cuda_probe() != 0:
        raise CudaUnavailable(ffi.string(lib.hecate_cuda_last_error()).decode("utf-8", "replace"))
    return ffi, lib


def unavailable_reason() -> str | None:
    """None when the CUDA backend can run here, else why not (for skips and messages)."""
    try:
        _ready()
    except CudaUnavailable as exc:
        return str(exc)
    return None


def device_name() -> str:
    """Name, compute capability and SM count of the GPU the backend uses."""
    ffi, lib = _ready()
    buf = ffi.new("char[]", 256)
    _check(lib.hecate_cuda_device_name(buf, 256))
    return ffi.string(buf).decode()


@contextmanager
def _device_buffers(*sizes: int):
    """Device float32 buffers of the given scalar counts, freed on exit."""
    ffi, lib = _ready()
    ptrs = []
    try:
        for n in sizes:
            ptr = ffi.new("void **")
            _check(lib.hecate_cuda_alloc(max(n, 1) * 4, ptr))
            ptrs.append(ffi.cast("float *", ptr[0]))
        yield ptrs
    finally:
        for p in ptrs:
            lib.hecate_cuda_free(p)


def _upload(ptr, array: np.ndarray) -> None:
    ffi, lib = _ready()
    array = np.ascontiguousarray(array, np.float32)
    _check(lib.hecate_cuda_to_device(ptr, ffi.from_buffer(array), array.nbytes))


def _download(ptr, shape) -> np.ndarray:
    ffi, lib = _ready()
    out = np.empty(shape, np.float32)
    _check(lib.hecate_cuda_to_host(ffi.from_buffer(out), ptr, out.nbytes))
    return out


def _spec(spec: dict):
    ffi, lib = _ready()
    return ffi.new("hecate_rule_spec *", spec)


def rule_forward(spec: dict, k, v, q, gates, state, chunked: bool = False):
    """One rule over (B, H, T, d) float32 arrays on the GPU: gates (B, H, T, G), state (B, H, ...);
    returns (y, final state) as new arrays.  chunked: the chunked forward (delta and hebbian,
    hecate_cuda_rule_forward_chunked) instead of the token-by-token kernels."""
    ffi, lib = _ready()
    B, H, T, d = q.shape
    n_seq = B * H
    forward = lib.hecate_cuda_rule_forward_chunked if chunked else lib.hecate_cuda_rule_forward
    with _device_buffers(k.size, v.size, q.size, gates.size, state.size, q.size) as (dk, dv, dq, dg, ds, dy):
        for ptr, array in ((dk, k), (dv, v), (dq, q), (dg, gates), (ds, state)):
            _upload(ptr, array)
        _check(forward(_spec(spec), n_seq, T, dk, dv, dq, dg, ds, dy))
        return _download(dy, q.shape), _download(ds, state.shape)


def rule_backward(spec: dict, k, v, q, gates, state, dy, chunked: bool = False):
    """Gradients of sum(y * dy) of rule_forward with the same arguments: (dk, dv, dq, dgates).
    chunked: the chunked backward (delta and hebbian, hecate_cuda_rule_backward_chunked)."""
    _, lib = _ready()
    B, H, T, d = q.shape
    n_seq = B * H
    c_spec = _spec(spec)
    work = rule_backward_len(spec, n_seq, T, chunked)
    backward = lib.hecate_cuda_rule_backward_chunked if chunked else lib.hecate_cuda_rule_backward
    sizes = (k.size, v.size, q.size, gates.size, state.size, dy.size, k.size, v.size, q.size, gates.size, work)
    with _device_buffers(*sizes) as (pk, pv, pq, pg, ps, pdy, gk, gv, gq, gg, pw):
        for ptr, array in ((pk, k), (pv, v), (pq, q), (pg, gates), (ps, state), (pdy, dy)):
            _upload(ptr, array)
        _check(backward(c_spec, n_seq, T, pk, pv, pq, pg, ps, pdy, gk, gv, gq, gg, pw))
        return (_download(gk, k.shape), _download(gv, v.shape), _download(gq, q.shape),
                _download(gg, gates.shape))


def rule_runs(spec: dict) -> bool:
    """Whether the kernels run this rule spec (hecate_cuda_rule_check); False where the backend cannot run."""
    if unavailable_reason() is not None:
        return False
    ffi, lib = _ready()
    return lib.hecate_cuda_rule_check(_spec(spec), ffi.new("uint32_t *"), ffi.new("size_t *")) == 0


def rule_forward_device(spec: dict, n_seq: int, T: int, k: int, v: int, q: int, gates: int, state: int,
                        y: int, stream: int, chunked: bool = False) -> None:
    """hecate_cuda_rule_forward_async on device addresses (a framework tensor's data pointer; float32,
    contiguous), queued on `stream` (a cudaStream_t as an integer, 0: the default stream): no host
    copy, no sync, no check of the incoming state (capturable into a CUDA graph).  state is
    overwritten with the state after token T-1.  chunked: the chunked forward (delta and hebbian)."""
    ffi, lib = _ready()
    f = [ffi.cast("float *", a) for a in (k, v, q, gates, state, y)]
    forward = lib.hecate_cuda_rule_forward_chunked_async if chunked else lib.hecate_cuda_rule_forward_async
    _check(forward(_spec(spec), n_seq, T, *f, ffi.cast("void *", stream)))


def rule_backward_len(spec: dict, n_seq: int, T: int, chunked: bool = False) -> int:
    """Scalars of device work rule_backward_device needs (chunked: the chunked backward's)."""
    ffi, lib = _ready()
    work = ffi.new("size_t *")
    fn = lib.hecate_cuda_rule_backward_chunked_len if chunked else lib.hecate_cuda_rule_backward_len
    _check(fn(_spec(spec), n_seq, T, work))
    return int(work[0])


def chunked_runs(spec: dict) -> bool:
    """Whether the chunked forward and backward run this rule spec (delta and hebbian) on the
    current GPU (whose blocks must hold their shared memory at the spec's width)."""
    ffi, lib = _ready()
    return lib.hecate_cuda_rule_backward_chunked_len(_spec(spec), 0, 0, ffi.new("size_t *")) == 0


def rule_backward_device(spec: dict, n_seq: int, T: int, k: int, v: int, q: int, gates: int, state: int, dy: int,
                         dk: int, dv: int, dq: int, dgates: int, work: int, stream: int, chunked: bool = False) -> None:
    """hecate_cuda_rule_backward_async on device addresses, queued on `stream` as rule_forward_device:
    dk, dv, dq, dgates overwritten.  chunked: the chunked backward (work of rule_backward_len(...,
    chunked=True))."""
    ffi, lib = _ready()
    f = [ffi.cast("float *", a) for a in (k, v, q, gates, state, dy, dk, dv, dq, dgates, work)]
    fn = lib.hecate_cuda_rule_backward_chunked_async if chunked else lib.hecate_cuda_rule_backward_async
    _check(fn(_spec(spec), n_seq, T, *f, ffi.cast("void *", stream)))


class CudaSessionBatch:
    """n_sessions sessions of one float32 model file on the GPU, fed together
    (hecate_cuda_batch_*: MAG with a rule this backend runs; others raise
    HecateError HECATE_E_UNSUPPORTED naming what).  Same interface as
    hecate_edge.batch.CpuSessionBatch."""

    def __init__(self, model, n_sessions: int, max_chunk: int = 64):
        if model.precision != "f32":
            raise ValueError("CUDA sessions run float32 model files (precision='f32')")
        ffi, lib = _ready()
        self.n_sessions = int(n_sessions)
        self.vocab = model.info["vocab"]
        self._state_shape = model.memory_shape
        out = ffi.new("hecate_cuda_batch **")
        _check(lib.hecate_cuda_batch_open(ffi.from_buffer(model._file), model._file.size, self.n_sessions,
                                          max_chunk, out))
        self._batch = ffi.gc(out[0], lib.hecate_cuda_batch_close)

    def process(self, tokens, want_logits: bool = True):
        """Feed tokens (n_sessions, T) to every session; logits (n_sessions, T, vocab) float32 or None."""
        ffi, lib = _ready()
        tokens = np.asarray(tokens)
        if tokens.ndim != 2 or tokens.shape[0] != self.n_sessions:
            raise ValueError(f"tokens must have shape ({self.n_sessions}, T), got {tokens.shape}")
        if tokens.size and (tokens.min() < 0 or tokens.max() > 0xFFFFFFFF):
            raise ValueError("token ids must be non-negative 32-bit integers")
        tokens = np.ascontiguousarray(tokens, np.uint32)
        T = tokens.shape[1]
        logits = np.empty((self.n_sessions, T, self.vocab), np.float32) if want_logits else None
        _check(lib.hecate_cuda_batch_process(self._batch, ffi.cast("uint32_t *", ffi.from_buffer(tokens)), T,
                                             ffi.cast("float *", ffi.from_buffer(logits)) if want_logits
                                             else ffi.NULL))
        return logits

    def reset(self, session: int | None = None) -> None:
        """Reset one session (index) or all (None)."""
        ffi, lib = _ready()
        _check(lib.hecate_cuda_batch_reset(self._batch, -1 if session is None else int(session)))

    def memory(self, session: int) -> np.ndarray:
        """A copy of session `session`'s memory state, shaped as Model.memory_shape."""
        ffi, lib = _ready()
        out = np.empty(self._state_shape, np.float32)
        _check(lib.hecate_cuda_batch_memory(self._batch, int(session), ffi.cast("float *", ffi.from_buffer(out)),
                                            out.size))
        return out

    def position(self, session: int) -> int:
        """Tokens session `session` consumed since its last reset."""
        ffi, lib = _ready()
        pos = ffi.new("uint64_t *")
        _check(lib.hecate_cuda_batch_position(self._batch, int(session), pos))
        return int(pos[0])
