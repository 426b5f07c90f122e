#!/usr/bin/env python3
"""serve_demo.py — serves the repository root over HTTP for the browser demo
(wasm/demo/), with the MIME types ES modules and WebAssembly need.  The parts
the demo needs that are built rather than committed (BUILT) are checked at
start, and a request for a missing one is answered with the command that
makes it; then open the printed URL."""
import argparse
import functools
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEMO_PATH = "/wasm/demo/"
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
