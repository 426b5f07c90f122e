"""The microcontroller target (docs/MCU.md): the d = 64 micro model, fp32 and
int8, exported as a C array, built into tools/mcu/run_model.c and run (1) on
the host and (2) as Cortex-M4F firmware under qemu-system-arm (mps2-an386);
both must match the file-loaded model in hecate_edge.runtime: per-token
logits checksums and the last token's logits, at the float32 parity
tolerance, and print the success sentinel."""
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import lively_params
from hecate_edge.config import ModelConfig
from hecate_edge.format import write_model
from hecate_edge.runtime import Model
from parity import assert_close

ROOT = Path(__file__).resolve().parent.parent
MCU = ROOT / "tools" / "mcu"
PROMPT = b"The return statement"  # run_model.c's
TOL = 1e-5
SENTINEL = "HECATE_MCU_OK"


def _f32(hex_bits: str) -> float:
    return struct.unpack("<f", bytes.fromhex(hex_bits)[::-1])[0]


def parse_run(stdout: str) -> dict:
    """run_model.c's output as numbers (fails if the sentinel is missing)."""
    lines = stdout.splitlines()
    assert lines and lines[-1] == SENTINEL, f"no sentinel; output ends with {lines[-3:]}"
    out = {"sum": [], "sumsq": [], "ticks": [], "tokens": []}
    for line in lines:
        fields = line.split()
        if fields[0] == "token":
            kv = dict(f.split("=") for f in fields[2:])
            out["tokens"].append(int(kv["id"]))
            out["ticks"].append(int(kv["ticks"]))
            out["sum"].append(_f32(kv["sum"]))
            out["sumsq"].append(_f32(kv["sumsq"]))
        elif fields[0] == "last_logits":
            out["last"] = np.array([_f32(h) for h in fields[1:]])
        elif fields[0] == "calibration":
            out["calibration"] = {k: int(v) for k, v in (f.split("=") for f in fields[1:])}
        elif fields[0] == "hecate_mcu":
            out["sizes"] = {k: int(v) for k, v in (f.split("=") for f in fields[1:])}
    return out


def host_reference(model_file: Path) -> dict:
    """The same prompt through hecate_edge.runtime, checksums accumulated in
    float32 in run_model.c's order (so only the logits can differ)."""
    model = Model(model_file)
    session = model.session()
    tokens = [b % model.info["vocab"] for b in PROMPT]
    logits = np.stack([session.step(t) for t in tokens]).astype(np.float32)
    sums = [np.cumsum(row, dtype=np.float32)[-1] for row in logits]
    sumsq = [np.cumsum(row * row, dtype=np.float32)[-1] for row in logits]
    return {"tokens": tokens, "sum": np.array(sums), "sumsq": np.array(sumsq), "last": logits[-1]}


def assert_matches(run: dict, want: dict, what: str) -> None:
    assert run["tokens"] == want["tokens"], what
    assert_close(run["last"], want["last"], TOL, f"{what}: last token's logits")
    assert_close(run["sumsq"], want["sumsq"], TOL, f"{what}: per-token sum of squared logits")
    assert_close(run["sum"], want["sum"], TOL, f"{what}: per-token logit sums")


@pytest.fixture(scope="module", params=["f32", "int8"])
def micro_model(request, tmp_path_factory) -> Path:
    """The d = 64 micro model (ModelConfig()) with lively gates, fp32 or int8."""
    cfg = ModelConfig()
    quantize = None if request.param == "f32" else "int8"
    path = tmp_path_factory.mktemp(f"mcu_{request.param}") / "micro.hct"
    path.write_bytes(write_model(cfg, lively_params(cfg, 0), "f32", quantize=quantize))
    return path


def build(model_file: Path, out: Path, target: str) -> None:
    args = ["bash", str(MCU / "build_firmware.sh"), str(model_file), str(out)] + (["host"] if target == "host" else [])
    done = subprocess.run(args, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_c_array_model_runs_on_the_host(micro_model, tmp_path):
    build(micro_model, tmp_path, "host")
    done = subprocess.run([str(tmp_path / "run_model")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    run = parse_run(done.stdout)
    assert run["sizes"]["model_bytes"] == micro_model.stat().st_size
    assert_matches(run, host_reference(micro_model), f"host C-array run of {micro_model.parent.name}")


def run_firmware(model_file: Path, out: Path) -> dict:
    assert shutil.which("qemu-system-arm"), "qemu-system-arm missing (tools/install_and_test.sh installs it)"
    build(model_file, out, "m4f")
    done = subprocess.run(["bash", str(MCU / "run_qemu.sh"), str(out / "firmware.elf")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    return parse_run(done.stdout)


def test_firmware_under_qemu_matches_the_host_run(micro_model, tmp_path):
    run = run_firmware(micro_model, tmp_path)
    assert_matches(run, host_reference(micro_model), f"Cortex-M4 firmware of {micro_model.parent.name}")
    # SysTick under -icount counts instructions: the 2-instruction loop calibrates it
    cal = run["calibration"]
    assert cal["ticks"] > 0 and all(t > 0 for t in run["ticks"])


def test_the_comparison_tells_int8_from_f32(tmp_path):
    """The parity check is sharp: the int8 firmware does not pass for the f32 model."""
    cfg = ModelConfig()
    f32, int8 = tmp_path / "f32.hct", tmp_path / "int8.hct"
    f32.write_bytes(write_model(cfg, lively_params(cfg, 0), "f32"))
    int8.write_bytes(write_model(cfg, lively_params(cfg, 0), "f32", quantize="int8"))
    build(int8, tmp_path / "host", "host")
    done = subprocess.run([str(tmp_path / "host" / "run_model")], capture_output=True, text=True, timeout=120)
    with pytest.raises(AssertionError):
        assert_matches(parse_run(done.stdout), host_reference(f32), "int8 run vs f32 model")
