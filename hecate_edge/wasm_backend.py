"""hecate_edge's Model / Session API inside Pyodide, over the WebAssembly runtime.

Owns the Python side of the Pyodide route (docs/WASM.md): calls wasm/hecate.js
through Pyodide's JS bridge and converts values both ways.  Pure Python: logits
come back as numpy float32 arrays when numpy is importable, else as lists.
The host page (or Node script) registers a loaded runtime first:
``pyodide.registerJsModule("hecate_wasm", {runtime: await loadRuntime(...)})``;
or, installed from the Pyodide wheel (tools/build_pyodide_wheel.py), which
carries the runtime under hecate_edge/wasm/, ``await load_runtime()``.
"""

from __future__ import annotations

import os

from .errors import HecateError

JS_MODULE = "hecate_wasm"   # the name the host registers the runtime under

try:
    import numpy as _np
except ImportError:  # Pyodide without its numpy package
    _np = None


def _bridge():
    """(to_js, JsException) from Pyodide's ffi; ImportError outside Pyodide."""
    from pyodide.ffi import JsException, to_js

    return to_js, JsException


RUNTIME_DIR = os.path.join(os.path.dirname(__file__), "wasm")  # the Pyodide wheel's runtime files
SAMPLER_IMPORT = '"./sampler.js"'   # hecate.js's one relative import
_loaded = None                      # the runtime load_runtime() made


def default_runtime():
    """The runtime the host registered as JS module `hecate_wasm`, else the
    one load_runtime() made."""
    try:
        return __import__(JS_MODULE).runtime
    except ImportError:
        if _loaded is not None:
            return _loaded
        raise ImportError(f"no JS module {JS_MODULE!r}: the host must call pyodide.registerJsModule("
                          f"{JS_MODULE!r}, {{runtime}}), or Python `await wasm_backend.load_runtime()`, "
                          f"first") from None


def _module_url(source: bytes) -> str:
    """A data: URL that imports as the ES module `source`."""
    import base64

    return "data:text/javascript;base64," + base64.b64encode(source).decode()


async def load_runtime(simd: bool | None = None):
    """Instantiate the runtime the Pyodide wheel carries (hecate_edge/wasm/:
    hecate.js and the SIMD128 or plain module; simd=None: SIMD where the
    engine has it) and make it the default of Model(); returns it."""
    global _loaded
    from pyodide.code import run_js

    def read(name: str) -> bytes:
        with open(os.path.join(RUNTIME_DIR, name), "rb") as f:
            return f.read()

    api = read("hecate.js").decode()
    if api.count(SAMPLER_IMPORT) != 1:
        raise RuntimeError(f"hecate.js must import {SAMPLER_IMPORT} exactly once to be loaded from data: URLs")
    api = api.replace(SAMPLER_IMPORT, f'"{_module_url(read("sampler.js"))}"')
    js = await run_js(f'import("{_module_url(api.encode())}")')
    if simd is None:
        simd = bool(js.simdSupported())
    to_js, _ = _bridge()
    _loaded = await js.loadRuntime(to_js(memoryview(read("hecate_simd.wasm" if simd else "hecate.wasm"))))
    return _loaded


def _call(fn, *args):
    """fn(*args), a JS HecateError re-raised as hecate_edge's HecateError."""
    _, js_exception = _bridge()
    try:
        return fn(*args)
    except js_exception as err:
        js_err = getattr(err, "js_error", err)
        if getattr(js_err, "name", None) == "HecateError":
            raise HecateError(int(js_err.status), str(js_err.statusName), str(js_err.text)) from None
        raise


def _floats(typed_array, rows: int | None = None):
    """A JS Float32Array as a numpy float32 array (shape (rows, -1) when rows
    is given), or without numpy as a list (of row lists)."""
    view = typed_array.to_py()   # a memoryview of format 'f'
    if _np is not None:
        arr = _np.array(view, dtype=_np.float32)
        return arr.reshape(rows, -1) if rows is not None else arr
    values = view.tolist()
    if rows is None:
        return values
    width = len(values) // rows if rows else 0
    return [values[i * width:(i + 1) * width] for i in range(rows)]


class Model:
    """A model file opened by the wasm runtime.  data: bytes-like or a path
    (in Pyodide's file system).  info: hecate_model_info fields as in
    hecate_edge.runtime.Model.info; tensors: one dict per tensor."""

    def __init__(self, data, runtime=None):
        to_js, _ = _bridge()
        if isinstance(data, (str, os.PathLike)):
            with open(data, "rb") as f:
                data = f.read()
        self._rt = runtime if runtime is not None else default_runtime()
        self._js = _call(self._rt.openModel, to_js(memoryview(bytes(data))))
        self.info = {k: int(v) for k, v in self._js.info.to_py().items()}
        self.tensors = [dict(t.to_py()) for t in self._js.tensors]

    def session(self, max_chunk: int = 16, freeze_memory: bool = False) -> "Session":
        """A new inference session (see Session)."""
        return Session(self, max_chunk=max_chunk, freeze_memory=freeze_memory)

    def close(self) -> None:
        """Free the model's wasm memory; its sessions are unusable after."""
        self._js.close()


class Session:
    """Streaming state over one Model: step / process / reset / position /
    memory / save_state / load_state, as hecate_edge.runtime.Session."""

    def __init__(self, model: Model, max_chunk: int = 16, freeze_memory: bool = False):
        to_js, _ = _bridge()
        self.model = model
        self.vocab = model.info["vocab"]
        opts = to_js({"maxChunk": int(max_chunk), "freezeMemory": bool(freeze_memory)},
                     dict_converter=_js_object)
        self._js = _call(model._js.session, opts)

    def step(self, token):
        """Feed one token; its next-token logits (vocab values)."""
        return _floats(_call(self._js.step, int(token)))

    def process(self, tokens):
        """Feed tokens; logits, one row of vocab values per token."""
        to_js, _ = _bridge()
        toks = [int(t) for t in tokens]
        return _floats(_call(self._js.process, to_js(toks)), rows=len(toks))

    def reset(self) -> None:
        """Back to the initial state."""
        _call(self._js.reset)

    @property
    def position(self) -> int:
        """Tokens consumed since the last reset."""
        return int(self._js.position)

    def memory(self, level: int = 0):
        """A flat copy of memory level `level`'s state (rule layout, MATH §3)."""
        return _floats(_call(self._js.memory, int(level)))

    def save_state(self) -> bytes:
        """The whole session state as a blob (FORMAT.md), loadable natively too."""
        return _call(self._js.saveState).to_bytes()

    def load_state(self, blob) -> None:
        """Restore a save_state() blob; on HecateError nothing changes."""
        to_js, _ = _bridge()
        _call(self._js.loadState, to_js(memoryview(bytes(blob))))

    def close(self) -> None:
        """Give the session's wasm memory back."""
        self._js.close()


def _js_object(entries):
    """dict_converter for to_js: a plain JS object (not a Map)."""
    from js import Object

    return Object.fromEntries(entries)
