"""``hecate-edge eval cms``: do more memory levels help? The default model
with k = 1, 2 and 4 CMS levels (MATH §6.1; periods 1, 8, 64, 512) at one
training budget, on the three-scale synthetic stream and on long held-out
text.

Owns the CMS eval's protocol and its table; the stream is
``hecate_edge.evals.multiscale``, the text split and scoring
``hecate_edge.evals.longtext``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from hecate_edge.evals import longtext, multiscale, run_text

LEVELS = (1, 2, 4)
STREAM_CHUNK, STREAM_BURN_IN = 64, 448  # chunks cover positions 448..511: every level of period <= 512 fires
STREAM_TRAIN, STREAM_HELD_OUT = 400_000, 32_768


@dataclass
class CmsRun:
    """One k: held-out bits/token on the stream per seed (NaN where the
    memory diverged there), text bits/byte per position bucket (seed 0),
    and the training seconds of each."""

    levels: int
    periods: tuple
    stream_bits: list = field(default_factory=list)
    text_bits: list = field(default_factory=list)
    text_counts: list = field(default_factory=list)
    seconds: float = 0.0


def stream_bits(k: int, seed: int, steps: int, batch: int, lr: float, threads: int | None,
                show_progress: bool) -> float:
    """Held-out bits/token of the default model with ``k`` levels trained on the stream."""
    from hecate_edge import train
    from hecate_edge.config import ModelConfig
    from hecate_edge.data import Corpus
    from hecate_edge.errors import HecateError

    model = train.new_model(ModelConfig(vocab=multiscale.VOCAB, n_levels=k), seed=seed)
    corpus = Corpus("multiscale", multiscale.stream(STREAM_TRAIN, seed=1))
    train.train(model, corpus, train.TrainConfig(steps=steps, chunk=STREAM_CHUNK, batch=batch, lr=lr, seed=seed,
                                                 burn_in=STREAM_BURN_IN),
                show_progress=show_progress, threads=threads, on_nonfinite="skip")
    try:
        return train.evaluate(model, multiscale.stream(STREAM_HELD_OUT, seed=2)).bits_per_byte
    except HecateError as err:  # a level that diverges on the held-out stream is reported, not hidden
        if err.name != "HECATE_E_NONFINITE":
            raise
        return math.nan


def run(levels=LEVELS, steps: int = 2000, text_steps: int = 2000, batch: int = 8, lr: float = 1e-2,
        seeds: int = 1, threads: int | None = None, show_progress: bool = True, on_done=None,
        text_burn_in: int = 0) -> list[CmsRun]:
    """Every k of ``levels`` on both tasks; ``on_done(runs)`` after each k.
    ``text_burn_in`` tokens before each text chunk let slow levels fire in
    training (MATH §6.1)."""
    from hecate_edge.config import ModelConfig

    runs = []
    corpora, held = run_text.stdlib_data()
    for k in levels:
        cfg = ModelConfig(n_levels=k)
        started = time.perf_counter()
        run = CmsRun(k, cfg.periods)
        run.stream_bits = [stream_bits(k, seed, steps, batch, lr, threads, show_progress) for seed in range(seeds)]
        model, _ = run_text.train_on_stdlib(cfg, corpora, steps=text_steps, batch=batch, chunk=128, lr=lr, seed=0,
                                            threads=threads, show_progress=show_progress, burn_in=text_burn_in)
        bits, counts = longtext.bits_by_position(model, held)
        run.text_bits, run.text_counts = [float(b) for b in bits], [int(c) for c in counts]
        run.seconds = time.perf_counter() - started
        runs.append(run)
        if on_done is not None:
            on_done(runs)
    return runs


def markdown(runs: list[CmsRun]) -> str:
    """One row per k: the stream's held-out bits (mean of the finite seeds,
    then each seed) and the text's bits/byte per position bucket."""
    labels = run_text.bucket_labels()
    lines = ["| k | periods | stream bits/token: mean (seeds) | vs k = 1 | text " + " | ".join(labels) + " |",
             "|---:|---|---|---:|" + "---:|" * len(labels)]
    base = None
    for run in runs:
        finite = [b for b in run.stream_bits if not math.isnan(b)]
        mean = float(np.mean(finite)) if finite else math.nan
        base = mean if base is None else base
        seeds = ", ".join("diverged" if math.isnan(b) else f"{b:.4f}" for b in run.stream_bits)
        lines.append(f"| {run.levels} | {', '.join(map(str, run.periods))} | {mean:.4f} ({seeds}) | "
                     f"{100 * (mean - base) / base:+.1f}% | " + " | ".join(f"{b:.3f}" for b in run.text_bits) + " |")
    return "\n".join(lines)
