#!/usr/bin/env python3
"""serve_demo.py — serves the repository root over HTTP for the browser demo
(wasm/demo/), with the MIME types ES modules and WebAssembly need.  Build the
modules first (bash wasm/build.sh); then open the printed URL."""
import argparse
import functools
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEMO_PATH = "/wasm/demo/"


class _Handler(SimpleHTTPRequestHandler):
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map,
                      ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm"}

    def log_message(self, *args):  # quiet: the page reports its own errors
        pass


def make_server(host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """A server of the repository root on host:port (0: a free port); call serve_forever()."""
    return ThreadingHTTPServer((host, port), functools.partial(_Handler, directory=str(REPO)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    server = make_server(port=args.port)
    print(f"demo at http://127.0.0.1:{server.server_address[1]}{DEMO_PATH}  (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
