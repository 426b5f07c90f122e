"""report.py MODEL.hct — the figures of docs/MCU.md for a float32 model file
and its int8 and w8a16 exports: file sizes, held-out loss, and for the Cortex-M4F
firmware under QEMU: flash, RAM, stack high-water mark and instructions per
token.  Prints markdown.  Usage (from the repository root):
    python3 tools/mcu/report.py model.hct
"""
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))
sys.path.insert(0, str(HERE))
import harness  # noqa: E402
from hecate_edge import data, train  # noqa: E402
from hecate_edge.format import read_model, write_model  # noqa: E402
from hecate_edge.runtime import Model  # noqa: E402

RUNTIME_OBJECTS = ("src__", "rules__", "compose__")  # build_firmware.sh's object prefixes
# (column, write_model's quantize): float, int8 weights, int8 weights with int16 activations (MATH §1.1)
COLUMNS = (("fp32", None), ("int8", "int8"), ("w8a16", "w8a16"))


def section_sizes(elf: Path) -> dict[str, int]:
    out = subprocess.run(["arm-none-eabi-size", "-A", str(elf)], capture_output=True, text=True, check=True).stdout
    return {f[0]: int(f[1]) for f in (line.split() for line in out.splitlines()) if len(f) == 3 and f[0][0] == "."}


def symbol_size(elf: Path, name: str) -> int:
    out = subprocess.run(["arm-none-eabi-nm", "-S", str(elf)], capture_output=True, text=True, check=True).stdout
    return next(int(f[1], 16) for f in (line.split() for line in out.splitlines()) if len(f) == 4 and f[3] == name)


def runtime_flash(map_file: Path) -> int:
    """Bytes of .text/.rodata input sections the link kept from the runtime's objects."""
    total, pending = 0, None
    for line in map_file.read_text().splitlines():
        fields = line.split()
        if len(fields) == 1 and fields[0].startswith((".text", ".rodata")):
            pending = fields[0]  # a long section name: address, size, object on the next line
            continue
        if pending and len(fields) == 3:
            fields = [pending] + fields
        pending = None
        if len(fields) == 4 and fields[0].startswith((".text", ".rodata")) and fields[2].startswith("0x"):
            if Path(fields[3]).name.startswith(RUNTIME_OBJECTS):
                total += int(fields[2], 16)
    return total


def largest_frames(out: Path, n: int = 3) -> list[tuple[int, str]]:
    """The n largest static stack frames (-fstack-usage) among the runtime's functions."""
    frames = []
    for su in out.glob("*.su"):
        if su.name.startswith(RUNTIME_OBJECTS):
            for line in su.read_text().splitlines():
                where, size, _ = line.split("\t")
                frames.append((int(size), where.rsplit(":", 1)[-1]))
    return sorted(frames, reverse=True)[:n]


def firmware_figures(model_file: Path, out: Path) -> dict:
    elf = harness.build(model_file, out, "m4f")
    run = harness.run(elf)
    sec = section_sizes(elf)
    per_tick = harness.instructions_per_tick(run)
    insns = np.array(run["ticks"]) * per_tick
    sizes = run["sizes"]
    return {
        "flash": sec[".text"] + sec[".rodata"], "model_array": symbol_size(elf, "hecate_model_data"),
        "runtime_flash": runtime_flash(out / "firmware.map"),
        "static_ram": sec.get(".data", 0) + sec.get(".bss", 0),
        "runtime_ram": sizes["model_handle_bytes"] + sizes["session_bytes"] + 4 * sizes["vocab"],
        "model_handle": sizes["model_handle_bytes"], "session": sizes["session_bytes"],
        "stack": sizes["stack_bytes"], "frames": largest_frames(out), "per_tick": per_tick,
        "insn_first": insns[0], "insn_full": insns[-1], "insn_mean": insns.mean(),
    }


def main(model_path: str) -> None:
    cfg, params, _ = read_model(Path(model_path).read_bytes(), "f32")
    heldout = data.load_corpus("text", "heldout")
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, quantize in COLUMNS:
            path = Path(tmp) / f"{label}.hct"
            path.write_bytes(write_model(cfg, params, "f32", quantize=quantize))
            loss = train.evaluate(Model(path), heldout).bits_per_byte
            rows[label] = {"file": path.stat().st_size, "loss": loss, **firmware_figures(path, Path(tmp) / label)}
    print(f"d = {cfg.d_model}, V = {cfg.vocab}, window {cfg.window}, {cfg.rule} rule; "
          f"held-out text: {heldout.tokens.size:,} bytes\n")
    print("| | " + " | ".join(label for label, _ in COLUMNS) + " |\n|---" + "|---" * len(COLUMNS) + "|")
    lines = [
        ("model file (bytes)", "file", "{:,}"),
        ("held-out loss (bits/byte)", "loss", "{:.4f}"),
        ("flash: .text + .rodata, whole firmware (bytes)", "flash", "{:,}"),
        ("  of which the model array", "model_array", "{:,}"),
        ("  of which the runtime's code and constants", "runtime_flash", "{:,}"),
        ("RAM the runtime needs: model handle + session arena + logits (bytes)", "runtime_ram", "{:,}"),
        ("  model handle (hecate_model_bytes)", "model_handle", "{:,}"),
        ("  session arena, max_chunk 1 (hecate_session_bytes)", "session", "{:,}"),
        ("RAM: .data + .bss of the firmware, harness buffers included (bytes)", "static_ram", "{:,}"),
        ("stack high-water mark below main, open + init + 20 steps (bytes)", "stack", "{:,}"),
        ("instructions per token, first token", "insn_first", "{:,.0f}"),
        ("instructions per token, window full (token 20)", "insn_full", "{:,.0f}"),
        ("instructions per token, mean over the 20-token prompt", "insn_mean", "{:,.0f}"),
        ("instructions per SysTick tick (calibration)", "per_tick", "{:.2f}"),
    ]
    for title, key, fmt in lines:
        print(f"| {title} | " + " | ".join(fmt.format(rows[label][key]) for label, _ in COLUMNS) + " |")
    for label, _ in COLUMNS:
        frames = ", ".join(f"{name} {size} B" for size, name in rows[label]["frames"])
        print(f"\nLargest static frames in the runtime ({label}, -fstack-usage): {frames}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
