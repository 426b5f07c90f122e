"""The binding of libhecate_threads (runtime_c/host/hecate_threads.h): a pool of
worker threads in C that runs the n tasks of a C function, the calling thread
taking part. A training step's chunks and mean (train_batch.TrainBatch) and its
AdamW updates (runtime.AdamWTensors.update_all) run on it, one call each, without
a Python hand-off per piece (DECISIONS D81)."""

from __future__ import annotations

import functools
import os

from ._cdef import build_cdef, plain_cdef
from ._lib import LIB_DIR_ENV, first_missing, lib_dir, library_filename

_STEM = "hecate_threads"


@functools.lru_cache(maxsize=None)
def _binding():
    import cffi

    folder = lib_dir()
    header, path = folder / "hecate_threads.h", folder / library_filename(_STEM)
    missing = first_missing(folder / "hecate.h", header, path)
    if missing is not None:
        raise ImportError(f"hecate_edge runtime file missing: {missing} "
                          f"(install with 'pip install .' or point {LIB_DIR_ENV} at a CMake build folder)")
    ffi = cffi.FFI()  # hecate.h first: the tasks return its hecate_status
    ffi.cdef(build_cdef((folder / "hecate.h").read_text(encoding="utf-8"))[0]
             + plain_cdef(header.read_text(encoding="utf-8")))
    return ffi, ffi.dlopen(str(path))


class Workers:
    """``n`` workers: the calling thread and ``n - 1`` C threads, which spin a
    short while between runs and then sleep. Use as a context manager, or call
    :meth:`close`. One run at a time."""

    def __init__(self, n: int):
        ffi, lib = _binding()
        if not 1 <= n <= lib.HECATE_THREADS_MAX:
            raise ValueError(f"threads must be in 1..{lib.HECATE_THREADS_MAX}, got {n}")
        out = ffi.new("hecate_threads **")
        err = lib.hecate_threads_new(n, out)
        if err:
            raise OSError(err, f"could not start {n - 1} worker threads: {os.strerror(err)}")
        self._ffi, self._lib, self._pool = ffi, lib, out[0]
        self.count = n

    def run(self, fn: int, ctx: int, n_tasks: int) -> int:
        """Call the C function at address ``fn`` as ``fn(ctx, task, worker)``
        for every task in 0 .. n_tasks - 1 (the GIL released); 0, or what the
        lowest-numbered failing task returned."""
        if self._pool is None:
            raise ValueError("the workers are closed")
        ffi = self._ffi
        return self._lib.hecate_threads_run(self._pool, ffi.cast("hecate_task_fn", fn), ffi.cast("void *", ctx),
                                            n_tasks)

    def close(self) -> None:
        """Stop and join the threads (idempotent)."""
        if getattr(self, "_pool", None) is not None:  # None also when __init__ failed
            self._lib.hecate_threads_free(self._pool)
            self._pool = None

    def __enter__(self) -> "Workers":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()
