"""``hecate-edge eval recall``: train one small model per memory rule on MQAR
episodes and measure recall by query gap, memory on vs frozen vs an
attention-only model vs chance.

Owns the recall eval's protocol (model, training budget, test grid), the
results file its runs are merged into, its markdown table and plot. The task
itself is ``hecate_edge.evals.recall``. Every model is
``ModelConfig(rule=..., composition=...)`` with nothing else set: the evals
measure the defaults users get.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from hecate_edge.evals import recall
from hecate_edge.grad_pool import usable_cores
from hecate_edge.nonfinite import NonFiniteTraining

GAPS = (0, 16, 64, 256, 1024)     # filler bytes between the pairs and the queries (window 16)
LR = 1e-2                         # the eval's learning rate; runs at another one go to their own section
PAIR_COUNTS = (4, 8, 16)
VARIANTS = ("memory", "frozen")  # test-time learning on, and the same weights with it off
# The attention-only baseline: the delta model trained and run with its memory
# frozen (it reads its zero initial state, so only attention carries tokens)
NO_MEMORY = "no-memory"


def run_key(rule: str, seed: int) -> str:
    """A run's key in the results file and its jobs' progress lines: the rule for seed 0
    (files written before seeds were kept apart hold only those), else ``rule@seed``."""
    return rule if seed == 0 else f"{rule}@{seed}"


def display_name(rule: str) -> str:
    """A rule's name in the tables and the plot."""
    return "attention only" if rule == NO_MEMORY else rule


@dataclass
class RecallRun:
    """One trained model and its accuracy[variant][n_pairs][gap]; ``rule`` is
    a rule name or NO_MEMORY, ``seed`` its init, data and held-out seed.
    ``made_by`` is the provenance line of the eval run that trained it,
    ``machine`` where and on how many threads."""

    rule: str
    composition: str
    n_params: int
    train_seconds: float
    final_bpb: float
    accuracy: dict = field(default_factory=dict)
    made_by: str = ""
    machine: str = ""
    stopped: str = ""  # why training ended early (non-finite steps), "" when it ran every step
    seed: int = 0
    lr: float = LR     # files written before runs kept it hold runs at the eval's LR

    @property
    def key(self) -> str:
        """Its key in the results file (``run_key``)."""
        return run_key(self.rule, self.seed)

    @property
    def label(self) -> str:
        """Its name in the tables."""
        name = display_name(self.rule)
        return name if self.seed == 0 else f"{name} (seed {self.seed})"

    @classmethod
    def from_json(cls, data: dict) -> "RecallRun":
        """The inverse of ``asdict`` after a JSON round trip (keys back to
        ints); fields this version does not know are dropped, so a long run
        can still merge into a file that a newer version wrote meanwhile."""
        known = {f.name for f in fields(cls)}
        data = {key: value for key, value in data.items() if key in known}
        data["accuracy"] = {v: {int(n): {int(g): a for g, a in by_gap.items()} for n, by_gap in by_n.items()}
                            for v, by_n in data["accuracy"].items()}
        return cls(**data)


def run_rule(rule: str, composition: str | None = None, steps: int = 4000, batch: int = 8, chunk: int = 128,
             lr: float = LR, seed: int = 0, threads: int | None = None, episodes: int = 40,
             gaps=GAPS, pair_counts=PAIR_COUNTS, show_progress: bool = True,
             progress_label: str | None = None) -> RecallRun:
    """Train the default model of ``rule`` (``composition`` None: ModelConfig's) on MQAR episodes (gaps 0..32, so
    every training episode fits one chunk) and score held-out episodes. ``rule`` NO_MEMORY trains the
    delta model with its memory frozen: the attention-only baseline. ``progress_label``: as
    ``train.train``'s (progress lines for several runs sharing a terminal)."""
    from hecate_edge import train
    from hecate_edge.config import ModelConfig

    frozen_model = rule == NO_MEMORY
    name = "delta" if frozen_model else rule
    cfg = ModelConfig(rule=name) if composition is None else ModelConfig(rule=name, composition=composition)
    model = train.new_model(cfg, seed=seed)
    corpus = recall.training_corpus(seed, n_episodes=20000, pair_counts=pair_counts, max_gap=32)
    started = time.perf_counter()
    stopped, records = "", []
    try:
        records = train.train(model, corpus, train.TrainConfig(steps=steps, chunk=chunk, batch=batch, lr=lr,
                                                                   seed=seed, masked_loss=True,
                                                                   freeze_memory=frozen_model),
                              show_progress=show_progress, threads=threads, on_nonfinite="skip",
                              progress_label=progress_label)
    except NonFiniteTraining as failure:  # scored anyway: the model holds its last good weights
        stopped = str(failure)
    run = RecallRun(rule, cfg.composition, model.n_params, time.perf_counter() - started,
                    records[-1]["bpb"] if records else float("nan"),
                    machine=f"{platform.machine()}, {threads or usable_cores()} threads", stopped=stopped, seed=seed,
                    lr=lr)
    for variant in VARIANTS[:1] if frozen_model else VARIANTS:
        run.accuracy[variant] = {
            n: {gap: recall.accuracy(model, recall.held_out_episodes(seed, n, gap, episodes),
                                     freeze_memory=frozen_model or variant == "frozen") for gap in gaps}
            for n in pair_counts}
    return run


def load_runs(path: str | Path) -> dict[str, RecallRun]:
    """The runs stored in the results file ``path`` by key ({} if none yet)."""
    path = Path(path)
    if not path.exists():
        return {}
    return {rule: RecallRun.from_json(data) for rule, data in json.loads(path.read_text()).items()}


def save_runs(path: str | Path, runs: dict[str, RecallRun]) -> None:
    """Write ``runs`` (by key) to the results file ``path`` atomically."""
    from hecate_edge import atomic

    atomic.write_text(path, json.dumps({rule: asdict(run) for rule, run in sorted(runs.items())}, indent=1) + "\n")


def ordered(runs: dict[str, RecallRun]) -> list[RecallRun]:
    """Rules by name, each by seed, then the attention-only baseline's runs."""
    return sorted(runs.values(), key=lambda run: (run.rule == NO_MEMORY, run.rule, run.seed))


def by_rule(runs: list[RecallRun]) -> dict[str, list[RecallRun]]:
    """The runs of each rule (one per seed), rules in the order they first appear."""
    groups: dict[str, list[RecallRun]] = {}
    for run in runs:
        groups.setdefault(run.rule, []).append(run)
    return groups


def rows(run: RecallRun):
    """(label, memory column, variant) of the table rows of one run."""
    if run.rule == NO_MEMORY:
        return [(run.label, "-", "memory")]
    return [(run.label, variant, variant) for variant in VARIANTS]


def markdown(runs: list[RecallRun], n_pairs: int, gaps=GAPS) -> str:
    """A table: one row per rule and variant, accuracy by gap at ``n_pairs``."""
    head = "| rule | memory | " + " | ".join(f"gap {g}" for g in gaps) + " |"
    lines = [head, "|" + "---|" * (len(gaps) + 2)]
    for run in runs:
        for label, shown, variant in rows(run):
            cells = " | ".join(f"{run.accuracy[variant][n_pairs][g]:.3f}" for g in gaps)
            lines.append(f"| {label} | {shown} | {cells} |")
    lines.append(f"| (chance) | | " + " | ".join(f"{recall.CHANCE:.3f}" for _ in gaps) + " |")
    return "\n".join(lines)


def seeds_markdown(runs: list[RecallRun], n_pairs: int, gaps=GAPS, bar: float = 0.9) -> str:
    """For the rules with more than one seed: memory-on accuracy at ``n_pairs``
    by gap as the mean over seeds with the lowest and highest beside it, and
    how many seeds reach ``bar`` at every gap from 64 on (beyond 4x the window)."""
    far = [g for g in gaps if g >= 64]
    head = (f"| rule | seeds | " + " | ".join(f"gap {g}" for g in gaps)
            + f" | seeds >= {bar:.2f} at gaps {', '.join(map(str, far))} |")
    lines = [head, "|" + "---|" * (len(gaps) + 3)]
    for rule, mine in by_rule(runs).items():
        if len(mine) < 2:
            continue
        cells = []
        for g in gaps:
            values = [run.accuracy["memory"][n_pairs][g] for run in mine]
            cells.append(f"{sum(values) / len(values):.2f} ({min(values):.2f}-{max(values):.2f})")
        passed = sum(all(run.accuracy["memory"][n_pairs][g] >= bar for g in far) for run in mine)
        seeds = ", ".join(str(run.seed) for run in mine)
        lines.append(f"| {display_name(rule)} | {seeds} | " + " | ".join(cells) + f" | {passed} of {len(mine)} |")
    return "\n".join(lines)


def plot(runs: list[RecallRun], n_pairs: int, gaps=GAPS):
    """A draw(pyplot) function: accuracy vs gap, one line per rule (its lowest
    seed), memory solid and frozen dashed, the attention-only model black,
    chance dotted."""
    def draw(pyplot):
        figure, axes = pyplot.subplots(figsize=(7, 4))
        xs = list(range(len(gaps)))
        for run in first_seeds(runs):
            if run.rule == NO_MEMORY:
                axes.plot(xs, [run.accuracy["memory"][n_pairs][g] for g in gaps], color="black", marker="x",
                          label=run.label)
                continue
            line, = axes.plot(xs, [run.accuracy["memory"][n_pairs][g] for g in gaps], marker="o", label=run.label)
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


def first_seeds(runs: list[RecallRun]) -> list[RecallRun]:
    """Each rule's run of the lowest seed (the plot draws one line a rule)."""
    return [min(mine, key=lambda run: run.seed) for mine in by_rule(runs).values()]
