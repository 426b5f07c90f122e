"""Write the format golden set of the current versions, tests/data/golden/
model<M>_state<S>/ (M: the model file's format version, S: the state
blob's, docs/FORMAT.md): a small model file per representative
configuration (<name>.hct), the state blob its session saves after the first
SPLIT prompt tokens (<name>.state), and expected.npz with the prompt, SPLIT and
each model's float32 logits over the rest of the prompt.
tests/test_format_golden.py loads every such folder and holds the runtime to
them; it never writes them.

Run it when either version is bumped (docs/FORMAT.md, "Versions"): the
folders of older versions stay as they are, so that the new runtime is tested
on them.  Rewriting the current versions' folder takes --force.
    python tools/make_format_golden.py [--force]
"""
import struct
import sys
from pathlib import Path

import numpy as np

from hecate_edge.config import LEGACY_OFF, ModelConfig
from hecate_edge.format import VERSION, write_model
from hecate_edge.reference.init import init_params
from hecate_edge.reference.rules import rule_by_name
from hecate_edge.runtime import Model

GOLDEN = Path(__file__).resolve().parent.parent / "tests" / "data" / "golden"
PROMPT = np.frombuffer(b"golden files pin the layout: every old version still loads.", np.uint8) % 64
SPLIT = 52  # tokens before the saved state; the other 7 fit in the window, so it is read too
# Gate biases that make the memory forget and write visibly (alpha ~ 0.27, theta ~ 0.7), so
# that the saved state moves the logits well beyond the tests' tolerance.
LIVELY_BIAS = {"alpha": -1.0, "theta": 0.0, "eta": 0.0, "beta": 0.0, "delta": 3.0}


def small(**fields) -> ModelConfig:
    """V = 64, d = 16, 2 heads of 8, window 8; ModelConfig's defaults for the rest."""
    return ModelConfig(vocab=64, d_model=16, n_heads=2, window=8, **fields)


# name: (config, quantize)
CONFIGS = {
    "default": (small(), None),                       # MAL, convolution, rotary positions, bounded delta
    "legacy": (small(**LEGACY_OFF), None),            # MAG, no convolution or rotary positions (before D37)
    "mac_titans": (small(composition="mac", rule="titans"), None),
    "cms2_gated": (small(n_levels=2, periods=(1, 4), freq_gates=True), None),
    "int8": (small(), "int8"),
    "atlas_layers2": (small(rule="atlas", n_layers=2), None),
}


def golden_params(cfg: ModelConfig) -> dict:
    """init_params (seed 0) with lively gate biases, convolution taps and MAC mixes."""
    params = init_params(cfg, seed=0)
    rng = np.random.default_rng(1)
    gates = [gate for gate, _ in rule_by_name(cfg.rule).GATES]
    for name in params:
        if name.endswith("gate_b"):
            params[name] = np.array([LIVELY_BIAS[g] for g in gates]) + rng.uniform(-0.3, 0.3, len(gates))
        if ".conv_" in name or ".mac." in name:
            params[name] = rng.uniform(-0.6, 0.6, params[name].shape)
    return params


def main(force: bool) -> None:
    files, expected = {}, {"prompt": PROMPT.astype(np.uint32), "split": np.array(SPLIT)}
    for name, (cfg, quantize) in CONFIGS.items():
        files[f"{name}.hct"] = write_model(cfg, golden_params(cfg), "f32", quantize=quantize)
        session = Model(files[f"{name}.hct"]).session()
        session.process(PROMPT[:SPLIT], want_logits=False)
        files[f"{name}.state"] = session.save_state()
        expected[name] = session.process(PROMPT[SPLIT:])
    state_version = struct.unpack_from("<I", files["default.state"], 8)[0]
    out = GOLDEN / f"model{VERSION}_state{state_version}"
    if out.exists() and not force:
        sys.exit(f"{out} exists: golden files are rewritten only deliberately (--force)")
    out.mkdir(parents=True, exist_ok=True)
    for file, data in files.items():
        (out / file).write_bytes(data)
    np.savez(out / "expected.npz", **expected)
    total = sum(p.stat().st_size for p in out.iterdir())
    print(f"wrote {len(CONFIGS)} models, their states and expected.npz to {out} ({total} bytes)")


if __name__ == "__main__":
    if sys.argv[1:] not in ([], ["--force"]):
        sys.exit("usage: python tools/make_format_golden.py [--force]")
    main(force=sys.argv[1:] == ["--force"])
