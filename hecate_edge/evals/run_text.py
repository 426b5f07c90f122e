"""``hecate-edge eval text``: bits/byte by position on long held-out source
files, a memory model against the same weights with the memory frozen and
against a model trained with no memory at the same budget.

Owns the protocol and its table/plot; data and scoring are in ``longtext``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from hecate_edge.evals import longtext

VARIANTS = {
    "memory": "trained with memory, memory on",
    "frozen": "same weights, memory updates off",
    "no-memory": "trained and run with the memory frozen (attention only)",
}


@dataclass
class TextRun:
    """bits[variant] per position bucket, bytes per bucket, training seconds per model."""

    config: dict
    bits: dict = field(default_factory=dict)
    counts: list = field(default_factory=list)
    seconds: dict = field(default_factory=dict)


def run(rule: str = "delta", composition: str | None = None, steps: int = 3000, batch: int = 8, chunk: int = 128,
        lr: float = 1e-2, seed: int = 0, threads: int | None = None, show_progress: bool = True) -> TextRun:
    """Train both models on the standard library's training split and score the held-out files."""
    from hecate_edge.config import ModelConfig

    cfg = ModelConfig(rule=rule) if composition is None else ModelConfig(rule=rule, composition=composition)
    result = TextRun(cfg.to_dict())
    corpora, held = stdlib_data()
    models = {}
    for name, frozen in (("memory", False), ("no-memory", True)):
        models[name], result.seconds[name] = train_on_stdlib(cfg, corpora, steps=steps, batch=batch, chunk=chunk,
                                                             lr=lr, seed=seed, threads=threads,
                                                             freeze_memory=frozen, show_progress=show_progress)
    for variant, (name, frozen) in {"memory": ("memory", False), "frozen": ("memory", True),
                                    "no-memory": ("no-memory", True)}.items():
        bits, counts = longtext.bits_by_position(models[name], held, freeze_memory=frozen)
        result.bits[variant] = [float(b) for b in bits]
        result.counts = [int(c) for c in counts]
    return result


def stdlib_data():
    """``(training corpora, held-out files)`` of the standard library's split
    (``longtext.stdlib_split``), read once for every model an eval trains."""
    from hecate_edge import sources

    train_files, held = longtext.stdlib_split()
    return sources.load_files(train_files), held


def train_on_stdlib(cfg, corpora, steps: int, batch: int, chunk: int, lr: float, seed: int, threads: int | None,
                    freeze_memory: bool = False, show_progress: bool = True, burn_in: int = 0):
    """``(model, seconds)``: a new model of ``cfg`` trained on ``corpora``
    (from ``stdlib_data``), files mixed by size."""
    from hecate_edge import sources, train

    model = train.new_model(cfg, seed=seed)
    started = time.perf_counter()
    train.train(model, corpora, train.TrainConfig(steps=steps, chunk=chunk, batch=batch, lr=lr, seed=seed,
                                                  freeze_memory=freeze_memory, burn_in=burn_in),
                mix=sources.size_weights(corpora, chunk + burn_in), show_progress=show_progress, threads=threads,
                on_nonfinite="skip")
    return model, time.perf_counter() - started


def bucket_labels() -> list[str]:
    edges = longtext.BUCKETS
    return [f"{edges[i]}-{edges[i + 1] - 1}" for i in range(len(edges) - 1)]


def markdown(result: TextRun) -> str:
    """Bits/byte per position bucket, one row per variant."""
    labels = bucket_labels()
    lines = ["| model | " + " | ".join(labels) + " |", "|" + "---|" * (len(labels) + 1)]
    for variant, label in VARIANTS.items():
        lines.append(f"| {variant}: {label} | " + " | ".join(f"{b:.3f}" for b in result.bits[variant]) + " |")
    lines.append("| bytes scored | " + " | ".join(f"{c:,}" for c in result.counts) + " |")
    return "\n".join(lines)


def plot(result: TextRun):
    """A draw(pyplot) function: bits/byte against position bucket per variant."""
    def draw(pyplot):
        figure, axes = pyplot.subplots(figsize=(7, 4))
        xs = list(range(len(result.counts)))
        for variant in VARIANTS:
            axes.plot(xs, result.bits[variant], marker="o", label=variant)
        axes.set_xticks(xs, bucket_labels(), rotation=30)
        axes.set_xlabel("byte position in the file (the attention window is 16)")
        axes.set_ylabel("bits/byte (held-out)")
        axes.set_title("Long held-out source files: loss by position")
        axes.legend()
        return figure
    return draw
