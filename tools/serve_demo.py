#!/usr/bin/env python3
"""serve_demo.py — serves the repository root over HTTP for the browser demo
(wasm/demo/), with the MIME types ES modules and WebAssembly need, plus the
bundled model's ONNX export and its initial state (docs/ONNX.md), made on
request when hecate_edge.onnx is importable.  The parts the demo needs that
are built rather than committed (BUILT) are checked at start, and a request
for a missing one is answered with the command that makes it; then open the
printed URL."""
import argparse
import functools
import json
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEMO_PATH = "/wasm/demo/"
DEMO_MODEL = REPO / "wasm" / "demo" / "micro.hct"


@functools.cache
def onnx_files() -> dict[str, tuple[bytes, str]]:
    """{URL path: (body, MIME type)} of micro.onnx and micro.state.json ({input name:
    {dtype, shape, data}}, a fresh session); empty without the onnx extra."""
    try:
        from hecate_edge import onnx as hecate_onnx
    except ImportError:
        return {}
    data = DEMO_MODEL.read_bytes()
    state = {name: {"dtype": str(value.dtype), "shape": list(value.shape), "data": value.ravel().tolist()}
             for name, value in hecate_onnx.initial_state(data).items()}
    return {f"{DEMO_PATH}micro.onnx": (hecate_onnx.export(data).SerializeToString(), "application/octet-stream"),
            f"{DEMO_PATH}micro.state.json": (json.dumps(state).encode(), "application/json")}


# URL path prefix of a built part: (a file it must hold, the command that builds it in the repo root)
BUILT = {"/build/wasm/": ("build/wasm/hecate.wasm", "bash wasm/build.sh"),
         "/wasm/node_modules/": ("wasm/node_modules/pyodide/pyodide.mjs", "npm ci --prefix wasm")}


def missing(root: Path = REPO) -> list[str]:
    """One line per built part missing under root: what, and the command that makes it."""
    return [f"{file} is missing: run `{command}` in the repository root"
            for file, command in BUILT.values() if not (root / file).is_file()]


class _Handler(SimpleHTTPRequestHandler):
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map,
                      ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm"}

    def do_GET(self):
        made = onnx_files().get(self.path) if self.path.startswith(f"{DEMO_PATH}micro.") else None
        if made is None:
            super().do_GET()
            return
        body, mime = made
        self.send_response(200)
        self.send_header("Content-Type", mime)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_error(self, code, message=None, explain=None):
        for prefix, (_, command) in BUILT.items():
            if code == HTTPStatus.NOT_FOUND and self.path.startswith(prefix):
                message = f"not built: run `{command}` in the repository root"
        super().send_error(code, message, explain)

    def log_message(self, *args):  # quiet: the page reports its own errors
        pass


def make_server(host: str = "127.0.0.1", port: int = 0, root: Path = REPO) -> ThreadingHTTPServer:
    """A server of root (the repository) on host:port (0: a free port); call serve_forever()."""
    return ThreadingHTTPServer((host, port), functools.partial(_Handler, directory=str(root)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    for line in missing():
        print(f"WARNING: {line}")
    server = make_server(port=args.port)
    print(f"demo at http://127.0.0.1:{server.server_address[1]}{DEMO_PATH}  (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
