"""``hecate-edge eval recall``: train one small model per memory rule on MQAR
episodes and measure recall by query gap, memory on vs frozen vs chance.

Owns the recall eval's protocol (model, training budget, test grid), its
markdown table and plot. The task itself is ``hecate_edge.evals.recall``.
Every model is ``ModelConfig(rule=..., composition=...)`` with nothing else
set: the evals measure the defaults users get.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from hecate_edge.evals import recall

GAPS = (0, 16, 64, 256, 1024)     # filler bytes between the pairs and the queries (window 16)
PAIR_COUNTS = (4, 8, 16)
VARIANTS = ("memory", "frozen")  # test-time learning on, and the same weights with it off


@dataclass
class RecallRun:
    """One rule's trained model and its accuracy[variant][n_pairs][gap]."""

    rule: str
    composition: str
    n_params: int
    train_seconds: float
    final_bpb: float
    accuracy: dict = field(default_factory=dict)


def run_rule(rule: str, composition: str | None = None, steps: int = 1500, batch: int = 8, chunk: int = 128,
             lr: float = 1e-2, seed: int = 0, threads: int | None = None, episodes: int = 40,
             gaps=GAPS, pair_counts=PAIR_COUNTS, show_progress: bool = True) -> RecallRun:
    """Train the default model of ``rule`` (``composition`` None: ModelConfig's) on MQAR episodes (gaps 0..32, so
    every training episode fits one chunk) and score held-out episodes."""
    from hecate_edge import train
    from hecate_edge.config import ModelConfig

    cfg = ModelConfig(rule=rule) if composition is None else ModelConfig(rule=rule, composition=composition)
    model = train.new_model(cfg, seed=seed)
    corpus = recall.training_corpus(seed, n_episodes=20000, pair_counts=pair_counts, max_gap=32)
    started = time.perf_counter()
    records = train.train(model, corpus, train.TrainConfig(steps=steps, chunk=chunk, batch=batch, lr=lr, seed=seed,
                                                               masked_loss=True),
                          show_progress=show_progress, threads=threads, on_nonfinite="skip")
    run = RecallRun(rule, cfg.composition, model.n_params, time.perf_counter() - started,
                    records[-1]["bpb"] if records else float("nan"))
    for variant in VARIANTS:
        run.accuracy[variant] = {
            n: {gap: recall.accuracy(model, recall.held_out_episodes(seed, n, gap, episodes),
                                     freeze_memory=variant == "frozen") for gap in gaps}
            for n in pair_counts}
    return run


def markdown(runs: list[RecallRun], n_pairs: int, gaps=GAPS) -> str:
    """A table: one row per rule and variant, accuracy by gap at ``n_pairs``."""
    head = "| rule | memory | " + " | ".join(f"gap {g}" for g in gaps) + " |"
    lines = [head, "|" + "---|" * (len(gaps) + 2)]
    for run in runs:
        for variant in VARIANTS:
            cells = " | ".join(f"{run.accuracy[variant][n_pairs][g]:.3f}" for g in gaps)
            lines.append(f"| {run.rule} | {variant} | {cells} |")
    lines.append(f"| (chance) | | " + " | ".join(f"{recall.CHANCE:.3f}" for _ in gaps) + " |")
    return "\n".join(lines)


def plot(runs: list[RecallRun], n_pairs: int, gaps=GAPS):
    """A draw(pyplot) function: accuracy vs gap, one line per rule, memory
    solid and frozen dashed, chance dotted."""
    def draw(pyplot):
        figure, axes = pyplot.subplots(figsize=(7, 4))
        xs = list(range(len(gaps)))
        for run in runs:
            line, = axes.plot(xs, [run.accuracy["memory"][n_pairs][g] for g in gaps], marker="o", label=run.rule)
            axes.plot(xs, [run.accuracy["frozen"][n_pairs][g] for g in gaps], linestyle="--",
                      color=line.get_color(), alpha=0.5)
        axes.axhline(recall.CHANCE, color="grey", linestyle=":", label="chance")
        axes.set_xticks(xs, [str(g) for g in gaps])
        axes.set_xlabel("gap (filler bytes; the attention window is 16)")
        axes.set_ylabel(f"recall accuracy, {n_pairs} pairs")
        axes.set_ylim(0, 1.02)
        axes.set_title("MQAR recall: memory on (solid) vs frozen (dashed)")
        axes.legend(fontsize=7, ncol=2)
        return figure
    return draw
