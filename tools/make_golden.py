"""Write the committed golden model (tests/data/golden.hct) and the reference
logits for its fixed prompt (tests/data/golden_logits.npy).

Run only when the model format or the math deliberately changes:
    python tools/make_golden.py
The logits come from the float64 reference on the file's float32 weights; the
golden test holds both the reference and the C runtime to them.
"""
from pathlib import Path

import numpy as np

from hecate_edge.config import ModelConfig
from hecate_edge.format import read_model, write_model
from hecate_edge.reference.init import init_params
from hecate_edge.reference.model import ReferenceSession

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
CONFIG = ModelConfig(vocab=256, d_model=32, n_heads=4, window=8)
PROMPT = b"hecate_edge golden prompt: memories that learn while they read."
SEED = 7


def golden_params() -> dict:
    """Seeded init with gate biases that make the memory forget and write visibly."""
    params = init_params(CONFIG, SEED)
    params["blk0.mem0.gate_b"] = np.array([-1.5, -0.5])
    return params


def main() -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    blob = write_model(CONFIG, golden_params(), dtype="f32")
    (DATA / "golden.hct").write_bytes(blob)
    cfg, stored, _ = read_model(blob)
    params = {k: v.astype(np.float64) for k, v in stored.items()}
    logits = ReferenceSession(cfg, params).process(np.frombuffer(PROMPT, np.uint8))
    np.save(DATA / "golden_logits.npy", logits)
    print(f"wrote {DATA / 'golden.hct'} ({len(blob)} bytes) and golden_logits.npy {logits.shape}")


if __name__ == "__main__":
    main()
