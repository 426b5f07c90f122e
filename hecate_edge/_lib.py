"""Finding and loading the runtime's shared libraries, and their status codes.
Owns where libhecate* and hecate.h are looked up ($HECATE_EDGE_LIB_DIR first), cffi bindings
built from the real headers, the backend names, and a non-zero hecate_status -> HecateError."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ._cdef import build_cdef
from .errors import HecateError

LIB_DIR_ENV = "HECATE_EDGE_LIB_DIR"
ISA_ENV = "HECATE_EDGE_ISA"  # which build of the library: "auto" (default), "baseline" or "avx2" (D79)
ISAS = ("auto", "baseline", "avx2")
_LIB_STEMS = {"f32": "hecate", "f64": "hecate_f64"}
_ISA_SUFFIX = {"baseline": "", "avx2": "_avx2"}
_DTYPES = {"f32": np.dtype(np.float32), "f64": np.dtype(np.float64)}
BACKENDS = ("cpu", "cuda", "cuda-chunk")  # libhecate / libhecate_f64; libhecate_cuda (cuda.py) token by token / chunked


class Binding(NamedTuple):
    """One loaded runtime build (load_library)."""

    ffi: object
    lib: object
    status_names: dict
    dtype: np.dtype
    precision: str
    isa: str  # "baseline" (the portable build) or "avx2" (x86-64 AVX2 + FMA)


def lib_dir() -> Path:
    """Folder holding the shared libraries and hecate.h: $HECATE_EDGE_LIB_DIR
    if set (development builds), else hecate_edge/lib next to this file, else
    the installed distribution's hecate_edge/lib."""
    override = os.environ.get(LIB_DIR_ENV)
    if override:
        return Path(override)
    own = Path(__file__).resolve().parent / "lib"
    if own.is_dir():
        return own
    return _installed_lib_dir() or own


def _installed_lib_dir() -> Path | None:
    """hecate_edge/lib of the pip-installed distribution.  Used when the
    package is imported from a source checkout without built libraries
    (`python -m pytest` in the repo root puts the checkout first on sys.path)."""
    from importlib import metadata

    try:
        dist = metadata.distribution("hecate-edge")
    except metadata.PackageNotFoundError:
        return None
    path = Path(dist.locate_file("hecate_edge/lib"))
    return path if path.is_dir() else None


def library_filename(stem: str) -> str:
    """The platform's file name of shared library `stem` (libhecate.so, hecate.dll, ...)."""
    if sys.platform == "darwin":
        return f"lib{stem}.dylib"
    if sys.platform == "win32":
        return f"{stem}.dll"
    return f"lib{stem}.so"


def first_missing(*paths: Path) -> Path | None:
    """The first of `paths` that is not a file, or None."""
    return next((p for p in paths if not p.is_file()), None)


def open_cffi(path: Path, headers: list[Path], precision: str) -> tuple[object, object, dict]:
    """(ffi, lib, status_names) of the shared library at `path`, declared by
    `headers` read in order (_cdef.py); OSError when it cannot be loaded."""
    import cffi

    text = "\n".join(h.read_text(encoding="utf-8") for h in headers)
    cdef, names = build_cdef(text, precision)
    ffi = cffi.FFI()
    ffi.cdef(cdef)
    return ffi, ffi.dlopen(str(path)), names


def cpu_runs_avx2() -> bool:
    """Whether this CPU and OS run AVX2 and FMA code, as numpy's own dispatch
    sees it (its CPU feature table, numpy >= 1.20; False where it has none)."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:
        try:
            from numpy.core._multiarray_umath import __cpu_features__ as features
        except ImportError:
            return False
    return bool(features.get("AVX2")) and bool(features.get("FMA3"))


def pick_isa(folder: Path, stem: str) -> str:
    """The build of library `stem` to load from `folder`: $HECATE_EDGE_ISA if set,
    else "avx2" where that build is there and the CPU runs it, else "baseline"."""
    choice = os.environ.get(ISA_ENV, "auto") or "auto"
    if choice not in ISAS:
        raise ValueError(f"{ISA_ENV} must be one of {ISAS}, not {choice!r}")
    if choice == "avx2" and not cpu_runs_avx2():
        raise ImportError(f"{ISA_ENV}=avx2, but this CPU (or numpy's view of it) lacks AVX2 or FMA")
    if choice == "auto":
        fast = folder / library_filename(stem + _ISA_SUFFIX["avx2"])
        return "avx2" if fast.is_file() and cpu_runs_avx2() else "baseline"
    return choice


@functools.cache
def load_library(precision: str = "f32") -> Binding:
    """Load the runtime build for `precision` ("f32" or "f64") once and
    return its (ffi, lib, status_names, dtype, precision, isa) binding:
    the AVX2 + FMA build where the CPU runs it (pick_isa, D79)."""
    if precision not in _LIB_STEMS:
        raise ValueError(f"precision must be 'f32' or 'f64', not {precision!r}")
    folder = lib_dir()
    header = folder / "hecate.h"
    isa = pick_isa(folder, _LIB_STEMS[precision])
    path = folder / library_filename(_LIB_STEMS[precision] + _ISA_SUFFIX[isa])
    missing = first_missing(header, path)
    if missing is not None:
        raise ImportError(
            f"hecate_edge runtime file missing: {missing} "
            f"(install with 'pip install .' or point {LIB_DIR_ENV} at a CMake build folder)")
    ffi, lib, names = open_cffi(path, [header], precision)
    return Binding(ffi, lib, names, _DTYPES[precision], precision, isa)


def check_backend(backend: str, allowed: tuple = BACKENDS) -> None:
    """ValueError unless `backend` is one of `allowed` (by default every one of BACKENDS)."""
    if backend not in allowed:
        raise ValueError(f"backend must be one of {allowed}, not {backend!r}")


def status_error(ffi, lib, status_names: dict, status: int, detail: str = "") -> HecateError:
    """The HecateError of non-zero `status`: its enum name and, unless a
    library-specific `detail` is given, hecate_status_str's text."""
    name = status_names.get(status, f"HECATE_STATUS_{status}")
    if detail:
        return HecateError(status, name, f"{name}: {detail}")
    return HecateError(status, name, ffi.string(lib.hecate_status_str(status)).decode("utf-8", "replace"))


def check(binding: Binding, status: int) -> None:
    """Raise HecateError for a non-zero status of a runtime call."""
    if status != 0:
        raise status_error(binding.ffi, binding.lib, binding.status_names, status)
