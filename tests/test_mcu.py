"""The microcontroller target (docs/MCU.md): the d = 64 micro model, fp32,
int8 and int8 with int16 activations (w8a16), exported as a C array, built into tools/mcu/run_model.c and run (1) on
the host and (2) as Cortex-M4F firmware under qemu-system-arm (mps2-an386);
both must match the file-loaded model in hecate_edge.runtime: per-token
logits checksums and the last token's logits, at the float32 parity
tolerance, and print the success sentinel."""
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import lively_params
from hecate_edge.config import ModelConfig
from hecate_edge.format import write_model
from hecate_edge.runtime import Model
from parity import assert_close

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools" / "mcu"))
import harness  # noqa: E402  (tools/mcu/harness.py: build, run, parse)

TOL = 1e-5


def host_reference(model_file: Path) -> dict:
    """The same prompt through hecate_edge.runtime, checksums accumulated in
    float32 in run_model.c's order (so only the logits can differ)."""
    model = Model(model_file)
    session = model.session()
    tokens = [b % model.info["vocab"] for b in harness.PROMPT]
    logits = np.stack([session.step(t) for t in tokens]).astype(np.float32)
    sums = [np.cumsum(row, dtype=np.float32)[-1] for row in logits]
    sumsq = [np.cumsum(row * row, dtype=np.float32)[-1] for row in logits]
    return {"tokens": tokens, "sum": np.array(sums), "sumsq": np.array(sumsq), "last": logits[-1]}


def assert_matches(run: dict, want: dict, what: str) -> None:
    assert run["tokens"] == want["tokens"], what
    assert_close(run["last"], want["last"], TOL, f"{what}: last token's logits")
    assert_close(run["sumsq"], want["sumsq"], TOL, f"{what}: per-token sum of squared logits")
    assert_close(run["sum"], want["sum"], TOL, f"{what}: per-token logit sums")


@pytest.fixture(scope="module", params=["f32", "int8", "w8a16", "w8a16-odd", "conv4", "rope"])
def micro_model(request, tmp_path_factory) -> Path:
    """The d = 64 micro model (ModelConfig()) with lively gates, fp32, int8 or w8a16
    (the integer-dot kernel, MATH §1.1: on the M4F its DSP instructions, on the host plain C;
    w8a16-odd: d = 27 and 254 tokens, so the DSP path's odd last row and its columns past the
    last four run too), or fp32 with the short convolution of 4 taps in its memory front end
    (MATH §3.1), or fp32 with rotary positions in window attention (MATH §2)."""
    cfg = ModelConfig(conv_kernel=4 if request.param == "conv4" else 0, rope=request.param == "rope")
    if request.param == "w8a16-odd":
        cfg = ModelConfig(d_model=27, n_heads=3, vocab=254)
    quantize = request.param.split("-")[0] if request.param.startswith(("int8", "w8a16")) else None
    path = tmp_path_factory.mktemp(f"mcu_{request.param}") / "micro.hct"
    path.write_bytes(write_model(cfg, lively_params(cfg, 0), "f32", quantize=quantize))
    return path


def test_c_array_model_runs_on_the_host(micro_model, tmp_path):
    run = harness.run(harness.build(micro_model, tmp_path, "host"), timeout=120)
    assert run["sizes"]["model_bytes"] == micro_model.stat().st_size
    assert_matches(run, host_reference(micro_model), f"host C-array run of {micro_model.parent.name}")


def test_firmware_under_qemu_matches_the_host_run(micro_model, tmp_path):
    run = harness.run(harness.build(micro_model, tmp_path, "m4f"))
    assert_matches(run, host_reference(micro_model), f"Cortex-M4 firmware of {micro_model.parent.name}")
    # the counter and the stack mark were live (their values are reported, not asserted)
    assert run["calibration"]["ticks"] > 0 and all(t > 0 for t in run["ticks"])
    assert run["sizes"]["stack_bytes"] > 0


def test_the_comparison_tells_int8_from_f32(tmp_path):
    """The parity check is sharp: the int8 run does not pass for the f32 model."""
    cfg = ModelConfig()
    f32, int8 = tmp_path / "f32.hct", tmp_path / "int8.hct"
    f32.write_bytes(write_model(cfg, lively_params(cfg, 0), "f32"))
    int8.write_bytes(write_model(cfg, lively_params(cfg, 0), "f32", quantize="int8"))
    run = harness.run(harness.build(int8, tmp_path / "host", "host"), timeout=120)
    with pytest.raises(AssertionError):
        assert_matches(run, host_reference(f32), "int8 run vs f32 model")


def test_cli_exports_a_c_array_of_the_model_file(micro_model, tmp_path):
    from hecate_edge import cli

    source = tmp_path / "weights.c"
    assert cli.main(["export", str(micro_model), "--out", str(tmp_path / "m.hct")]) == 0
    assert cli.main(["export", str(micro_model), "--out", str(source), "--format", "c", "--symbol", "w"]) == 0
    body = source.read_text().split("{", 1)[1].split("}", 1)[0]
    exported = bytes(int(b, 16) for b in body.replace(",", " ").split())
    assert exported == (tmp_path / "m.hct").read_bytes()
    assert f"W_BYTES = {len(exported)}" in (tmp_path / "weights.h").read_text()
    assert cli.main(["export", str(micro_model), "--out", str(source), "--format", "c", "--symbol", "9x"]) == 2
