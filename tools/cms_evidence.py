"""Does a multi-level (CMS) memory help on data with several time scales?

Trains the same micro model with k = 1, 2 and 4 memory levels (MATH §6.1,
default periods 1, 8, 64, 512) on a synthetic multi-scale stream, with the
same budget (steps, chunk, burn-in, learning rate, seeds), and reports the
held-out loss of each.  The table and the command that made it go into
docs/CMS_EVIDENCE.md.

The stream (vocab 64): a slow state s (one of 4, redrawn every 512 tokens),
a medium state m (one of 4, redrawn every 64 tokens) and the phase p =
position mod 8 pick a token from a fixed random table T[s, m, p]; each token
is that table entry with probability `--signal`, else uniform noise.  The
best possible predictor knows s, m and p; recovering s and m from noisy
tokens means pooling evidence over tens to hundreds of tokens, beyond the
attention window (16).

Usage: python3 tools/cms_evidence.py [--steps 1500] [--seeds 3] [--markdown]
"""
from __future__ import annotations

import argparse
import math
import sys
import time

import numpy as np

from hecate_edge import train
from hecate_edge.config import ModelConfig
from hecate_edge.data import Corpus
from hecate_edge.errors import HecateError

VOCAB = 64
SCALES = (8, 64, 512)  # phase, medium state, slow state (tokens)


def multiscale_stream(n: int, signal: float, seed: int) -> np.ndarray:
    """n tokens of the stream in the module docs (the table comes from seed 0:
    train and held-out streams share it, their states and noise differ)."""
    table = np.random.default_rng(0).integers(0, VOCAB, size=(4, 4, SCALES[0]))
    rng = np.random.default_rng(seed)
    pos = np.arange(n)
    slow = rng.integers(0, 4, n // SCALES[2] + 1)[pos // SCALES[2]]
    medium = rng.integers(0, 4, n // SCALES[1] + 1)[pos // SCALES[1]]
    tokens = table[slow, medium, pos % SCALES[0]]
    noise = rng.random(n) >= signal
    tokens[noise] = rng.integers(0, VOCAB, int(noise.sum()))
    return tokens.astype(np.uint32)


def entropy_floor(signal: float) -> float:
    """Bits per token of the ideal predictor that knows s, m and p."""
    hit = signal + (1 - signal) / VOCAB
    miss = (1 - signal) / VOCAB
    return -(hit * math.log2(hit) + (VOCAB - 1) * miss * math.log2(miss))


def run(k: int, seed: int, args: argparse.Namespace, corpus: Corpus, heldout: np.ndarray) -> float:
    """Held-out bits/token of one trained model; NaN when its memory diverged
    (HECATE_E_NONFINITE) on the held-out stream."""
    cfg = ModelConfig(vocab=VOCAB, d_model=args.d_model, n_heads=args.d_model // 16, window=16, n_levels=k)
    model = train.new_model(cfg, seed=seed)
    config = train.TrainConfig(steps=args.steps, chunk=args.chunk, lr=args.lr, seed=seed, burn_in=args.burn_in)
    train.train(model, corpus, config, show_progress=False)
    try:
        return train.evaluate(model, heldout).bits_per_byte
    except HecateError as err:
        if err.name != "HECATE_E_NONFINITE":
            raise
        return math.nan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--chunk", type=int, default=64)
    parser.add_argument("--burn-in", type=int, default=448, help="tokens fed before each chunk (default 448: "
                        "chunks cover positions 448..511, where every level of period <= 512 fires)")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--d-model", type=int, default=32)
    parser.add_argument("--signal", type=float, default=0.5)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--levels", default="1,2,4")
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    args = parser.parse_args(argv)
    corpus = Corpus("multiscale", multiscale_stream(400_000, args.signal, seed=1))
    heldout = multiscale_stream(32_768, args.signal, seed=2)
    floor = entropy_floor(args.signal)
    rows = []
    for k in (int(x) for x in args.levels.split(",")):
        started = time.perf_counter()
        bits = [run(k, seed, args, corpus, heldout) for seed in range(args.seeds)]
        finite = [b for b in bits if not math.isnan(b)]
        rows.append((k, float(np.mean(finite)) if finite else math.nan, float(np.std(finite)) if finite else math.nan,
                     bits, time.perf_counter() - started))
        print(f"k={k}: held-out {rows[-1][1]:.4f} +- {rows[-1][2]:.4f} bits/token "
              f"(seeds {', '.join(f'{b:.4f}' for b in bits)}; {rows[-1][4]:.0f} s)", file=sys.stderr)
    if args.markdown:
        base = rows[0][1]
        print(f"| k | periods | held-out bits/token (mean +- std of the finite seeds) | diverged | vs k = {rows[0][0]} |")
        print("|---:|---|---:|---:|---:|")
        for k, mean, std, bits, _ in rows:
            periods = ", ".join(str(p) for p in ModelConfig(n_levels=k).periods)
            lost = sum(math.isnan(b) for b in bits)
            print(f"| {k} | {periods} | {mean:.4f} +- {std:.4f} | {lost} of {len(bits)} | "
                  f"{100 * (mean - base) / base:+.1f}% |")
        print(f"\nIdeal predictor (knows s, m and p): {floor:.4f} bits/token; uniform guess: "
              f"{math.log2(VOCAB):.4f}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
