# pyodide_job.py — runs inside Pyodide (tests/js/pyodide_run.mjs) with
# hecate_edge installed from its wheel: loads the runtime the wheel carries,
# drives the model at /job/model.hct through hecate_edge.wasm_backend as
# `spec_json` says; its last expression, a JSON string, is the result.
import base64
import json
import sys
from importlib import metadata

import hecate_edge
from hecate_edge import sampler, wasm_backend
from hecate_edge.errors import HecateError

spec = json.loads(spec_json)  # noqa: F821 (set by the host)
await wasm_backend.load_runtime(simd=spec["simd"])  # noqa: F704 (run with runPythonAsync)
model = wasm_backend.Model("/job/model.hct")
session = model.session(max_chunk=spec["max_chunk"])
result = {
    "installed": [hecate_edge.__file__, metadata.version("hecate-edge")],
    "numpy_loaded": "numpy" in sys.modules,
    "info": model.info,
    "logits": session.process(spec["tokens"]),
}
result["steps"] = [session.step(t) for t in spec["more"]]
result["position"] = session.position
result["memory"] = session.memory(0)
result["state"] = base64.b64encode(session.save_state()).decode()
restored = model.session()
restored.load_state(base64.b64decode(result["state"]))
result["restored_position"] = restored.position
fresh = model.session()
result["generated"] = list(sampler.generate(fresh, bytes(spec["prompt"]), spec["max_tokens"], spec["seed"],
                                            spec["temperature"], spec["top_k"]))
try:
    wasm_backend.Model("/job/bad.hct")
    result["bad"] = None
except HecateError as err:
    result["bad"] = [err.status, err.name, str(err)]
json.dumps(result)
