"""Keep a fuzzer's crash input as a regression case: apply the rewrites its
harness makes (runtime_c/fuzz/fuzz_common.h: the model file's CRC; for the
state target also the blob's model CRC and CRC), so the stored file means
the same to the Python binding as to the harness, and write it to
tests/data/fuzz/TARGET/NAME.  tools/fuzz.sh replays it under the sanitizers;
add its expected statuses to tests/test_fuzz_regressions.py.

    python tools/fuzz_keep.py {model,state,process} CRASH_FILE NAME
"""
import struct
import sys
import zlib
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "fuzz"


def fix_crc(buf: bytearray) -> None:
    """fuzz_fix_crc: the CRC32 of [28, recorded size) at offset 24, when the size is in 28 .. len."""
    if len(buf) >= 28 and 28 <= (size := struct.unpack_from("<Q", buf, 16)[0]) <= len(buf):
        struct.pack_into("<I", buf, 24, zlib.crc32(buf[28:size]))


def rewritten(target: str, data: bytes) -> bytes:
    """The input as the harness of `target` hands it to the runtime."""
    if target != "state":
        buf = bytearray(data)
        fix_crc(buf)
        return bytes(buf)
    model_len = struct.unpack_from("<Q", data, 16)[0] if len(data) >= 24 else len(data) + 1
    if model_len > len(data):
        return data
    model, blob = bytearray(data[:model_len]), bytearray(data[model_len:])
    fix_crc(model)
    if len(blob) >= 36 and len(model) >= 28:
        blob[32:36] = model[24:28]
    fix_crc(blob)
    return bytes(model + blob)


def main(target: str, crash: str, name: str) -> None:
    if target not in ("model", "state", "process"):
        sys.exit(f"unknown target {target!r} (model, state, process)")
    out = DATA / target / name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(rewritten(target, Path(crash).read_bytes()))
    print(f"wrote {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: python tools/fuzz_keep.py {model,state,process} CRASH_FILE NAME")
    main(*sys.argv[1:])
