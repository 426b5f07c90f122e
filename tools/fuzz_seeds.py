"""Seed corpora of the libFuzzer harnesses (runtime_c/fuzz/), written at test
time by tools/fuzz.sh rather than committed: a small valid model file of every
rule x composition, and of the optional features (no convolution or rotary
positions, CMS levels with and without frequency gates, MAC over two levels,
stacked blocks, every retention, int8 matrices), and for each a state blob
saved after a few tokens, appended to its model (fuzz_state.c's input).

    python tools/fuzz_seeds.py OUT_DIR    # -> OUT_DIR/models/*.hct, OUT_DIR/states/*.bin
"""
import sys
from pathlib import Path

import numpy as np

from hecate_edge.config import COMPOSITIONS, LEGACY_OFF, ModelConfig
from hecate_edge.format import write_model
from hecate_edge.reference.init import init_params
from hecate_edge.reference.rules import RULES
from hecate_edge.runtime import Model



def tiny(**fields) -> ModelConfig:
    """A 16-token, d = 8 model: the defaults of ModelConfig but for what `fields` set."""
    return ModelConfig(vocab=16, d_model=8, n_heads=2, window=4, **fields)

PROMPT = np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3], np.uint32)


def configs() -> dict[str, tuple[ModelConfig, str | None]]:
    """{seed name: (config, quantize)} covering every rule, composition and feature."""
    out = {}
    for rule in sorted(RULES):
        for comp in COMPOSITIONS:
            out[f"{rule}-{comp}"] = (tiny(rule=rule, composition=comp), None)
        for retention in RULES[rule].RETENTIONS:
            if retention != RULES[rule].RETENTION:
                out[f"{rule}-{retention}"] = (tiny(rule=rule, retention=retention), None)
        out[f"{rule}-cms2-gated"] = (tiny(rule=rule, n_levels=2, periods=(1, 2), freq_gates=True), None)
    out["atlas-ns5"] = (tiny(rule="atlas", rule_params=(2, 5)), None)
    out["delta-legacy"] = (tiny(**LEGACY_OFF), None)
    out["delta-cms3"] = (tiny(n_levels=3, periods=(1, 2, 3)), None)
    out["delta-mac-cms2"] = (tiny(composition="mac", n_levels=2, periods=(1, 2)), None)
    out["delta-layers2"] = (tiny(n_layers=2), None)
    out["delta-conv2-norope"] = (tiny(conv_kernel=2, rope=False), None)
    out["delta-int8"] = (tiny(), "int8")
    out["titans-mac-int8"] = (tiny(rule="titans", composition="mac"), "int8")
    out["delta-w8a16"] = (tiny(), "w8a16")
    return out


def main(out_dir: str) -> None:
    models, states = Path(out_dir, "models"), Path(out_dir, "states")
    models.mkdir(parents=True, exist_ok=True)
    states.mkdir(parents=True, exist_ok=True)
    for name, (cfg, quantize) in configs().items():
        blob = write_model(cfg, init_params(cfg, seed=0), "f32", quantize=quantize)
        session = Model(blob).session(max_chunk=4)
        session.process(PROMPT, want_logits=False)
        (models / f"{name}.hct").write_bytes(blob)
        (states / f"{name}.bin").write_bytes(blob + session.save_state())
    print(f"{len(configs())} model seeds in {models}, as many model+state seeds in {states}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tools/fuzz_seeds.py OUT_DIR")
    main(sys.argv[1])
