"""Run every registered memory rule for 100,000 tokens at its default gates
(the shipped init, d = 64) through the C runtime and write a table of the
state norm over time and the largest logit to docs/STABILITY.md.

    python tools/stability_sweep.py [--tokens 100000] [--out docs/STABILITY.md]

The test suite runs the same check for 10,000 tokens (tests/test_stability.py).
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

from hecate_edge.config import ModelConfig
from hecate_edge.reference.rules import RULES
from hecate_edge.train import new_model

CHECKPOINTS = 5


def sweep(rule: str, tokens: int, seed: int = 0) -> dict:
    """State norms at CHECKPOINTS evenly spaced points, max |logit|, finiteness, tok/s."""
    session = new_model(ModelConfig(rule=rule), seed=seed).session(max_chunk=64)
    stream = np.random.default_rng(seed).integers(0, 256, tokens)
    norms, max_logit, finite = [], 0.0, True
    started = time.perf_counter()
    for part in np.array_split(stream, CHECKPOINTS):
        logits = session.process(part)
        finite &= bool(np.isfinite(logits).all())
        max_logit = max(max_logit, float(np.abs(logits).max()))
        norms.append(float(np.linalg.norm(session.memory())))
    return {"norms": norms, "max_logit": max_logit, "finite": finite,
            "tok_s": tokens / (time.perf_counter() - started)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=100_000)
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "docs" / "STABILITY.md"))
    args = parser.parse_args(argv)
    lines = ["# Stability of every memory rule", "",
             f"`python tools/stability_sweep.py --tokens {args.tokens}`: d = 64, 4 heads, window 16,",
             "the shipped init (default gate biases), random bytes, one session, no resets.",
             f"State norm (Frobenius, whole state) after each fifth of the {args.tokens:,} tokens.", "",
             "| rule | " + " | ".join(f"norm @{(i + 1) * 100 // CHECKPOINTS}%" for i in range(CHECKPOINTS))
             + " | max abs logit | finite |",
             "|---|" + "---:|" * CHECKPOINTS + "---:|---|"]
    ok = True
    for rule in sorted(RULES):
        r = sweep(rule, args.tokens)
        ok &= r["finite"]
        lines.append(f"| {rule} | " + " | ".join(f"{n:.4g}" for n in r["norms"])
                     + f" | {r['max_logit']:.3g} | {'yes' if r['finite'] else 'NO'} |")
        print(f"{rule}: norms {['%.4g' % n for n in r['norms']]}, {r['tok_s']:,.0f} tok/s", file=sys.stderr)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
