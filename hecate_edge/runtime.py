"""Python binding of the C runtime (cffi ABI mode over libhecate / libhecate_f64).

Owns Model (a validated model file kept in a 64-byte aligned buffer, weights
readable and writable in place) and Session (step / process / train_chunk /
state blobs over a numpy arena); HecateError (errors.py) and load_library
(_lib.py, which finds the libraries) are importable from here too.  The math
is the C runtime's: MATH §1-§5 forward, §6 chunking and state, §7 gradients;
formats in FORMAT.md.
"""

from __future__ import annotations

import functools
import operator
import os
from typing import Mapping, NamedTuple, Sequence

import numpy as np

from ._lib import check, load_library
from .errors import HecateError  # noqa: F401  (public here: hecate_edge.runtime.HecateError)

_FILE_ALIGN = 64    # tensors sit at 64-byte multiples of the file (FORMAT.md)
_ARENA_ALIGN = 64   # hecate.h asks 16 for handles and arenas; 64 suits SIMD too
_UINT32_MAX = 0xFFFFFFFF


class TensorInfo(NamedTuple):
    """One parameter tensor, in file and gradient-buffer order (hecate_tensor_info)."""

    name: str
    shape: tuple[int, ...]
    n_elems: int
    grad_offset: int
    file_offset: int
    dtype: str          # "f32", "f64", "i8" (int8 with row scales) or "i8a16" (and int16 activations), FORMAT.md


def _aligned_bytes(n: int, align: int) -> np.ndarray:
    """A zeroed writable uint8 array of n bytes whose data pointer is a multiple of align."""
    raw = np.zeros(n + align, dtype=np.uint8)
    start = (-raw.ctypes.data) % align
    return raw[start:start + n]


def _as_token(token) -> int:
    """One token id as a uint32-range Python int (ValueError otherwise)."""
    if isinstance(token, (bool, np.bool_)):
        raise ValueError("a token must be an integer, not a bool")
    try:
        value = operator.index(token)
    except TypeError:
        raise ValueError(f"a token must be an integer, not {type(token).__name__}") from None
    if value < 0 or value > _UINT32_MAX:
        raise ValueError(f"token {value} is outside 0..{_UINT32_MAX}")
    return value


def _as_tokens(values, what: str) -> np.ndarray:
    """A 1-D integer sequence as a contiguous uint32 array (ValueError for a
    wrong shape, a non-integer dtype, negative or >32-bit values)."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        return np.zeros(0, dtype=np.uint32)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{what} must hold integers, got dtype {arr.dtype}")
    if arr.dtype.kind == "u" and arr.dtype.itemsize <= 4:  # in range by its type: no pass over the values
        return np.ascontiguousarray(arr, dtype=np.uint32)
    if arr.min() < 0:
        raise ValueError(f"{what} holds a negative value ({arr.min()})")
    if arr.max() > _UINT32_MAX:
        raise ValueError(f"{what} holds a value above {_UINT32_MAX}")
    return np.ascontiguousarray(arr, dtype=np.uint32)


def grads_mean(sets: Sequence[np.ndarray]) -> np.ndarray:
    """hecate_grads_mean: the float64 mean of equal-length gradient vectors (float32 or float64,
    all of one dtype), added in order."""
    if not sets:
        raise ValueError("grads_mean needs at least one gradient vector")
    first = sets[0]
    binding = load_library("f64" if first.dtype == np.float64 else "f32")
    for a in sets:
        if a.dtype != binding.dtype or a.shape != first.shape or a.ndim != 1 or not a.flags.c_contiguous:
            raise ValueError("gradient vectors must be contiguous 1-d arrays of one float dtype and length")
    ffi = binding.ffi
    keep = [ffi.from_buffer("hecate_real[]", a) for a in sets]
    out = np.empty(first.size, np.float64)
    check(binding, binding.lib.hecate_grads_mean(len(sets), ffi.new("hecate_real *[]", keep), first.size,
                                                  ffi.from_buffer("double[]", out)))
    return out


class AdamWTensors:
    """hecate_adamw_update (MATH §10) on named parameter tensors: each
    parameter (float32 or float64, contiguous, updated in place) and its
    float64 moment buffers m, v are checked once and their pointers kept,
    so a step costs the C update and little else."""

    def __init__(self, tensors: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]]):
        """tensors: name -> (param, m, v)."""
        self._kept = {}
        self._batch = None  # update_all's hecate_adamw_batch, built at its first call
        for name, (param, m, v) in tensors.items():
            binding = load_library("f64" if param.dtype == np.float64 else "f32")
            if param.dtype != binding.dtype or not param.flags.c_contiguous:
                raise ValueError(f"param must be a contiguous float32 or float64 array, got {param.dtype}")
            _check_like(param.shape, m=m, v=v)
            ffi = binding.ffi
            self._kept[name] = (binding, param.shape, ffi.from_buffer("hecate_real[]", param),
                                ffi.from_buffer("double[]", m), ffi.from_buffer("double[]", v))

    def update(self, name: str, grad: np.ndarray, **step: float) -> None:
        """One step of tensor ``name`` from ``grad`` (float64, its shape); step: the
        hecate_adamw_step fields (lr, decay, beta1, beta2, eps, bias1, bias2, grad_scale)."""
        binding, shape, param, m, v = self._kept[name]
        _check_like(shape, grad=grad)
        ffi = binding.ffi
        check(binding, binding.lib.hecate_adamw_update(ffi.new("hecate_adamw_step *", step), grad.size,
                                                       ffi.from_buffer("double[]", grad), m, v, param))

    def update_all(self, grads: Mapping[str, tuple[np.ndarray, float]], workers, **step: float) -> None:
        """One step of every tensor named in ``grads`` (name -> (float64 gradient,
        its decay)), each hecate_adamw_update with ``step`` (the hecate_adamw_step
        fields but decay), run as hecate_adamw_task tasks on ``workers``
        (threads.Workers); the other tensors are left alone. The bits of
        :meth:`update` one tensor at a time."""
        if self._batch is None:  # one task per tensor, in a fixed order; a held tensor gets n = 0
            self._binding = self._one_binding()
            ffi = self._binding.ffi
            self._order = list(self._kept)
            self._tensors = ffi.new("hecate_adamw_tensor[]", len(self._order))
            for t, name in zip(self._tensors, self._order):
                _, _, t.param, t.m, t.v = self._kept[name]
            self._batch = ffi.new("hecate_adamw_batch *", {"n_tensors": len(self._order), "tensors": self._tensors})
            self._address = int(ffi.cast("uintptr_t", self._batch))
            self._task = int(ffi.cast("uintptr_t", self._binding.lib.hecate_adamw_task))
        binding = self._binding
        ffi = binding.ffi
        for field, value in step.items():
            setattr(self._batch.step, field, value)
        kept = []
        for t, name in zip(self._tensors, self._order):
            if name not in grads:
                t.n = 0
                continue
            grad, t.decay = grads[name]
            _check_like(self._kept[name][1], grad=grad)
            kept.append(ffi.from_buffer("double[]", grad))
            t.grad, t.n = kept[-1], grad.size
        check(binding, workers.run(self._task, self._address, len(self._order)))

    def _one_binding(self):
        bindings = {id(kept[0]): kept[0] for kept in self._kept.values()}
        if len(bindings) != 1:
            raise ValueError("update_all needs every tensor of one dtype")
        return next(iter(bindings.values()))


def _check_like(shape: tuple[int, ...], **arrays: np.ndarray) -> None:
    """ValueError unless every array is contiguous float64 of the parameter's shape."""
    for name, a in arrays.items():
        if a.dtype != np.float64 or a.shape != shape or not a.flags.c_contiguous:
            raise ValueError(f"{name} must be a contiguous float64 array shaped like param {shape}")


def adamw_update(param: np.ndarray, grad: np.ndarray, m: np.ndarray, v: np.ndarray, **step: float) -> None:
    """hecate_adamw_update (MATH §10) on one tensor in place: param (float32 or float64, the
    runtime build of its dtype, contiguous) and the float64 buffers m, v; grad float64.  step:
    the hecate_adamw_step fields (lr, decay, beta1, beta2, eps, bias1, bias2, grad_scale)."""
    AdamWTensors({"param": (param, m, v)}).update("param", grad, **step)


def _read_source(data) -> np.ndarray:
    """Model file contents from a path or a bytes-like object, as uint8."""
    if isinstance(data, (str, os.PathLike)):
        return np.fromfile(os.fspath(data), dtype=np.uint8)
    return np.frombuffer(data, dtype=np.uint8)


class Model:
    """A model file validated by hecate_model_open, with weights read in place.

    data: bytes-like file contents or a path.  precision: "f32" uses
    libhecate (float32 files), "f64" uses libhecate_f64 (float64 files),
    each the AVX2 + FMA build where the CPU runs it (``isa``, D79).
    The file is copied into a private 64-byte aligned buffer; weights() views
    that buffer, so in-place updates reach every session of this model.
    """

    def __init__(self, data, precision: str = "f32"):
        self._bind = load_library(precision)
        ffi, lib = self._bind.ffi, self._bind.lib
        self.precision = precision
        self.dtype = self._bind.dtype
        self.isa = self._bind.isa  # which build of the library runs it: "baseline" or "avx2" (D79)
        source = _read_source(data)
        self._file = _aligned_bytes(source.size, _FILE_ALIGN)
        self._file[:] = source
        self._handle_mem = _aligned_bytes(lib.hecate_model_bytes(), _ARENA_ALIGN)
        out = ffi.new("hecate_model **")
        check(self._bind, lib.hecate_model_open(
            ffi.from_buffer(self._handle_mem), self._handle_mem.size,
            ffi.from_buffer(self._file), self._file.size, out))
        self._handle = out[0]
        info = ffi.new("hecate_model_info *")
        check(self._bind, lib.hecate_model_get_info(self._handle, info))
        self.info = {field: int(getattr(info, field))
                     for field, _ in ffi.typeof("hecate_model_info").fields}
        self.tensors = [self._tensor_info(i) for i in range(self.info["n_tensors"])]

    def _tensor_info(self, index: int) -> TensorInfo:
        from .format import DTYPES

        ffi = self._bind.ffi
        t = ffi.new("hecate_tensor_info *")
        check(self._bind, self._bind.lib.hecate_model_tensor(self._handle, index, t))
        return TensorInfo(
            name=ffi.string(t.name).decode("ascii"),
            shape=tuple(int(t.shape[k]) for k in range(t.ndim)),
            n_elems=int(t.n_elems),
            grad_offset=int(t.grad_offset),
            file_offset=int(t.file_offset),
            dtype=DTYPES[int(t.dtype)][0])

    @property
    def n_params(self) -> int:
        """Scalar parameter count (= length of a gradient vector)."""
        return self.info["n_params"]

    @functools.cached_property
    def config(self):
        """The file's configuration as a hecate_edge.config.ModelConfig (read
        from the header by the one Python format reader)."""
        from .format import header_config

        return header_config(self._file)

    @functools.cached_property
    def memory_shape(self) -> tuple[int, ...]:
        """Shape of one memory level's state, as the rule's reference defines
        it (MATH §3; delta: (d, d))."""
        from .reference.rules import rule_by_name

        cfg = self.config
        return rule_by_name(cfg.rule).init_state(cfg.d_model, cfg.rule_hp).shape

    @property
    def quantized(self) -> bool:
        """True when some tensors are int8 (such a model cannot train)."""
        from .format import INT8_DTYPES

        return any(t.dtype in INT8_DTYPES for t in self.tensors)

    def weights(self) -> dict[str, np.ndarray]:
        """{tensor name: writable array view into the model buffer}.  Writes
        change what every session of this model computes from its next call.
        int8 tensors come as read-only float64 copies, dequantized exactly; those
        with int16 activations as quantize.W8A16Matrix (products as the runtime's)."""
        from .format import INT8_DTYPES
        from .quantize import W8A16Matrix, dequantize_rows

        views = {}
        for t in self.tensors:
            if t.dtype in INT8_DTYPES:
                rows = t.shape[0]
                scales = self._file[t.file_offset:t.file_offset + 4 * rows].view("<f4")
                values = self._file[t.file_offset + 4 * rows:t.file_offset + 4 * rows + t.n_elems].view(np.int8)
                if t.dtype == "i8a16":
                    views[t.name] = W8A16Matrix(scales, values.reshape(t.shape))
                    continue
                views[t.name] = dequantize_rows(scales, values.reshape(t.shape))
                views[t.name].flags.writeable = False
                continue
            nbytes = t.n_elems * self.dtype.itemsize
            raw = self._file[t.file_offset:t.file_offset + nbytes]
            views[t.name] = raw.view(self.dtype).reshape(t.shape)
        return views

    def split_grads(self, flat) -> dict[str, np.ndarray]:
        """Views of a flat gradient vector (n_params,) per tensor, shaped like the weights."""
        flat = np.asarray(flat)
        if flat.shape != (self.n_params,):
            raise ValueError(f"gradient vector must have shape ({self.n_params},), got {flat.shape}")
        return {t.name: flat[t.grad_offset:t.grad_offset + t.n_elems].reshape(t.shape)
                for t in self.tensors}

    def session(self, max_chunk: int = 16, max_train_tokens: int = 0,
                freeze_memory: bool = False, fixed_schedule: bool = False) -> "Session":
        """A new session on this model (see Session)."""
        return Session(self, max_chunk=max_chunk, max_train_tokens=max_train_tokens,
                       freeze_memory=freeze_memory, fixed_schedule=fixed_schedule)

    def session_batch(self, n_sessions: int, backend: str = "cpu", max_chunk: int = 64):
        """n_sessions sessions fed together as (n_sessions, T) tokens on backend "cpu" or
        "cuda" (the GPU; hecate_edge.batch, docs/CUDA.md)."""
        from .batch import session_batch

        return session_batch(self, n_sessions, backend=backend, max_chunk=max_chunk)

    def to_bytes(self) -> bytes:
        """The model file with the current weights (CRC recomputed); int8
        tensors re-quantize to the values and scales they came from."""
        from .format import write_model

        a16 = any(t.dtype == "i8a16" for t in self.tensors)
        return write_model(self.config, self.weights(), dtype=self.precision,
                           quantize="w8a16" if a16 else "int8" if self.quantized else None)

    def __repr__(self) -> str:
        i = self.info
        return (f"Model(precision={self.precision!r}, vocab={i['vocab']}, d_model={i['d_model']}, "
                f"n_heads={i['n_heads']}, window={i['window']}, n_params={i['n_params']})")


class Session:
    """Streaming state over one Model: attention window cache, memory levels, position.

    max_chunk: tokens per internal block of process (0 means 16).
    max_train_tokens: longest train_chunk accepted (0: cannot train).
    freeze_memory: read memory but never write it (ablation, MATH §3.2).
    fixed_schedule: every learned frequency gate open, no gate gradient
    (MATH §6.2; outer training anneals from it).
    """

    def __init__(self, model: Model, max_chunk: int = 16, max_train_tokens: int = 0,
                 freeze_memory: bool = False, fixed_schedule: bool = False):
        for label, value in (("max_chunk", max_chunk), ("max_train_tokens", max_train_tokens)):
            if operator.index(value) < 0 or value > _UINT32_MAX:
                raise ValueError(f"{label} must be in 0..{_UINT32_MAX}, got {value}")
        self.model = model
        self._bind = model._bind
        ffi, lib = self._bind.ffi, self._bind.lib
        flags = (lib.HECATE_SESSION_FREEZE_MEMORY if freeze_memory else 0) | (
            lib.HECATE_SESSION_FIXED_SCHEDULE if fixed_schedule else 0)
        self._opts = ffi.new("hecate_session_opts *", {
            "max_chunk": max_chunk, "max_train_tokens": max_train_tokens, "flags": flags})
        size = ffi.new("size_t *")
        check(self._bind, lib.hecate_session_bytes(model._handle, self._opts, size))
        self._arena = _aligned_bytes(size[0], _ARENA_ALIGN)
        out = ffi.new("hecate_session **")
        check(self._bind, lib.hecate_session_init(
            ffi.from_buffer(self._arena), self._arena.size, model._handle, self._opts, out))
        self._handle = out[0]
        self.vocab = model.info["vocab"]
        self.max_train_tokens = max_train_tokens

    def _real_ptr(self, arr: np.ndarray):
        return self._bind.ffi.from_buffer("hecate_real[]", arr, require_writable=True)

    def _u32_ptr(self, arr: np.ndarray):
        return self._bind.ffi.from_buffer("uint32_t[]", arr)

    def step(self, token) -> np.ndarray:
        """Feed one token; return its next-token logits, shape (vocab,)."""
        logits = np.empty(self.vocab, dtype=self._bind.dtype)
        check(self._bind, self._bind.lib.hecate_step(
            self._handle, _as_token(token), self._real_ptr(logits)))
        return logits

    def process(self, tokens, want_logits: bool = True):
        """Feed tokens (1-D ints); return logits (T, vocab), or None if not wanted.
        Bit-identical to calling step per token (MATH §6)."""
        toks = _as_tokens(tokens, "tokens")
        ffi = self._bind.ffi
        logits = np.empty((toks.size, self.vocab), dtype=self._bind.dtype) if want_logits else None
        check(self._bind, self._bind.lib.hecate_process(
            self._handle, self._u32_ptr(toks), toks.size,
            self._real_ptr(logits) if want_logits else ffi.NULL))
        return logits

    def train_chunk(self, tokens, targets, out: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        """Forward over tokens (the session advances) and exact gradients of the
        mean cross-entropy against targets (MATH §5, §7).  Targets >= vocab are
        ignored.  Returns (loss, grads of shape (n_params,)); the gradients go
        into ``out`` when given (contiguous, the model's dtype), which after a
        HECATE_E_NONFINITE error holds what the backward computed (to find
        the tensors that overflowed)."""
        toks = _as_tokens(tokens, "tokens")
        tgts = _as_tokens(targets, "targets")
        if toks.size != tgts.size:
            raise ValueError(f"tokens ({toks.size}) and targets ({tgts.size}) differ in length")
        if out is None:
            grads = np.empty(self.model.n_params, dtype=self._bind.dtype)
        elif out.shape != (self.model.n_params,) or out.dtype != self._bind.dtype or not out.flags.c_contiguous:
            raise ValueError(f"out must be a contiguous {self._bind.dtype} array of shape ({self.model.n_params},)")
        else:
            grads = out
        loss = self._bind.ffi.new("hecate_real *")
        check(self._bind, self._bind.lib.hecate_train_chunk(
            self._handle, self._u32_ptr(toks), self._u32_ptr(tgts), toks.size,
            self._real_ptr(grads), loss))
        return float(loss[0]), grads

    def reset(self) -> None:
        """Back to the initial state (empty window, init memory, position 0)."""
        check(self._bind, self._bind.lib.hecate_session_reset(self._handle))

    @property
    def position(self) -> int:
        """Tokens consumed since the last reset."""
        pos = self._bind.ffi.new("uint64_t *")
        check(self._bind, self._bind.lib.hecate_session_position(self._handle, pos))
        return int(pos[0])

    def memory(self, level: int = 0, layer: int = 0) -> np.ndarray:
        """A copy of memory level `level`'s state in block `layer`, shaped as
        Model.memory_shape (a CMS level's accumulated state, MATH §6.1)."""
        return self._memory("hecate_session_memory", level, layer)

    def memory_read(self, level: int = 0, layer: int = 0) -> np.ndarray:
        """A copy of the state memory level `level`'s reads see in block `layer`:
        the block-start state of a CMS level of period > 1 (MATH §6.1), else
        the state itself."""
        return self._memory("hecate_session_memory_read", level, layer)

    def _memory(self, call: str, level: int, layer: int) -> np.ndarray:
        level, layer = operator.index(level), operator.index(layer)
        cfg = self.model.config
        if not 0 <= level < cfg.n_levels or not 0 <= layer < cfg.n_layers:
            raise ValueError(f"(level, layer) = ({level}, {layer}) outside the model's "
                             f"{cfg.n_levels} level(s) x {cfg.n_layers} layer(s)")
        level = layer * cfg.n_levels + level  # the C API counts memories layer-major
        ffi = self._bind.ffi
        state = ffi.new("const hecate_real **")
        count = ffi.new("size_t *")
        check(self._bind, getattr(self._bind.lib, call)(self._handle, level, state, count))
        n = int(count[0])
        flat = np.frombuffer(ffi.buffer(state[0], n * self._bind.dtype.itemsize),
                             dtype=self._bind.dtype).copy()
        return flat.reshape(self.model.memory_shape)  # a size mismatch is a bug: let it raise

    @property
    def state_bytes(self) -> int:
        """Size in bytes of a save_state() blob for this session."""
        size = self._bind.ffi.new("size_t *")
        check(self._bind, self._bind.lib.hecate_state_bytes(self._handle, size))
        return int(size[0])

    def save_state(self) -> bytes:
        """The whole session state as a versioned, CRC-checked blob (FORMAT.md)."""
        ffi = self._bind.ffi
        buf = _aligned_bytes(self.state_bytes, _ARENA_ALIGN)
        written = ffi.new("size_t *")
        check(self._bind, self._bind.lib.hecate_state_save(
            self._handle, ffi.from_buffer(buf), buf.size, written))
        return buf[:written[0]].tobytes()

    def load_state(self, blob) -> None:
        """Restore a save_state() blob of the same model and precision; on any
        error (HecateError) the session is left unchanged."""
        source = np.frombuffer(blob, dtype=np.uint8)
        buf = _aligned_bytes(source.size, _ARENA_ALIGN)
        buf[:] = source
        check(self._bind, self._bind.lib.hecate_state_load(
            self._handle, self._bind.ffi.from_buffer(buf), buf.size))

    def __repr__(self) -> str:
        return f"Session(position={self.position}, max_train_tokens={self.max_train_tokens})"
