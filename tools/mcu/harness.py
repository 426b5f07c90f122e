"""Driver of the MCU harness, shared by tests/test_mcu.py and report.py:
build run_model.c (host or Cortex-M4F firmware) around a model file, run it
(natively or under QEMU) and parse its output into numbers."""
import shutil
import struct
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
SENTINEL = "HECATE_MCU_OK"
PROMPT = b"The return statement"  # run_model.c's


def build(model_file: Path, out: Path, target: str = "m4f") -> Path:
    """Build for target "m4f" (out/firmware.elf) or "host" (out/run_model); returns the binary."""
    args = ["bash", str(HERE / "build_firmware.sh"), str(model_file), str(out)] + (["host"] if target == "host" else [])
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"build_firmware.sh failed:\n{done.stdout}{done.stderr}")
    return out / ("run_model" if target == "host" else "firmware.elf")


def run(binary: Path, timeout: int = 300) -> dict:
    """Run a host binary, or a firmware .elf under QEMU (run_qemu.sh); parsed output."""
    if binary.suffix == ".elf":
        if not shutil.which("qemu-system-arm"):
            raise RuntimeError("qemu-system-arm missing (tools/install_and_test.sh installs it)")
        args = ["bash", str(HERE / "run_qemu.sh"), str(binary)]
    else:
        args = [str(binary)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{binary.name} exited {done.returncode}:\n{done.stdout[-2000:]}{done.stderr}")
    return parse(done.stdout)


def _f32(hex_bits: str) -> float:
    return struct.unpack(">f", bytes.fromhex(hex_bits))[0]


def _pairs(fields: list[str]) -> dict[str, str]:
    return dict(f.split("=", 1) for f in fields)


def parse(stdout: str) -> dict:
    """run_model.c's output: sizes, calibration, per-token tokens/ticks/sum/sumsq,
    last-token logits.  ValueError without the sentinel line."""
    lines = stdout.splitlines()
    if not lines or lines[-1] != SENTINEL:
        raise ValueError(f"no {SENTINEL} line; output ends with {lines[-3:]}")
    out = {"tokens": [], "ticks": [], "sum": [], "sumsq": []}
    for line in lines:
        fields = line.split()
        if fields[0] == "token":
            kv = _pairs(fields[2:])
            out["tokens"].append(int(kv["id"]))
            out["ticks"].append(int(kv["ticks"]))
            out["sum"].append(_f32(kv["sum"]))
            out["sumsq"].append(_f32(kv["sumsq"]))
        elif fields[0] == "last_logits":
            out["last"] = [_f32(h) for h in fields[1:]]
        elif fields[0] == "calibration":
            out["calibration"] = {k: int(v) for k, v in _pairs(fields[1:]).items()}
        elif fields[0] == "hecate_mcu":
            out["sizes"] = {k: int(v) for k, v in _pairs(fields[1:]).items()}
    return out


def instructions_per_tick(parsed: dict) -> float:
    """The calibration loop runs 2 instructions per iteration."""
    cal = parsed["calibration"]
    return 2 * cal["iterations"] / cal["ticks"]
