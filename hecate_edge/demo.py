"""``hecate-edge demo``: train micro models briefly and show what test-time learning buys.

Owns the demo script: train (MATH §7) a model on key-value recall episodes
and one on text, plus the same text model with its memory frozen in training
(attention only); export and reload each through the C runtime; then show
recall beyond the attention window (memory on vs frozen, §3.2 ablation) and
held-out text loss (MATH §5) against attention only.
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

# Recall (MQAR, hecate_edge.evals.recall) is learned in a sudden drop after a
# plateau. Measured (16-core host, one thread per run, delta, 8 pairs at gaps
# 0 / 64 / 256, docs/EVALS.md "The demo's recall"): with episodes of 4 or 8
# pairs, 2000 steps x 8 x 128 bytes at lr 1e-2 recall 0.88-1.00 in 4 of 5
# seeds (seed 3: 0.36-0.39); with 16-pair episodes in the mix, as the eval
# trains, 2000 steps are short of the drop (0.31-0.52), 1500 steps too.
RECALL_STEPS = 2000
RECALL_CHUNK = 128           # one episode per chunk: 2N + gap + 2N + 2 bytes
RECALL_LR = 1e-2
RECALL_PAIRS = (4, 8)        # pairs per training episode
RECALL_MAX_GAP = 32          # filler bytes between the pairs and the queries in training
RECALL_SHOWN = 8             # pairs of the held-out episodes the demo scores
RECALL_GAPS = (0, 64, 256)   # filler bytes before the queries (the window is 16)
RECALL_EPISODES = 40
# Text: 1000 steps x 8 x 64 bytes at lr 2e-2 reach 2.36 bits/byte on held-out
# pydoc text, attention only 2.72 (this 2-core machine; the single-chunk demo
# of issue #15's start: 2.634 after 25k steps).
TEXT_STEPS = 1000
TEXT_CHUNK = 64
TEXT_LR = 2e-2
BATCH = 8
PROMPT = "The return statement"
SAMPLE_BYTES = 160


@dataclass(frozen=True)
class Part:
    """One training of the demo: what it reads, how long, and how it is shown."""

    label: str
    steps: int
    chunk: int
    lr: float
    freeze_memory: bool = False


def run_demo(
    steps: int | None = None,
    chunk: int | None = None,
    batch: int | None = None,
    threads: int | None = None,
    out: str | None = None,
    seed: int = 0,
    show_progress: bool = True,
    stream: TextIO | None = None,
    rule: str = "delta",
) -> dict:
    """Train, export, reload and report; returns the numbers it prints.

    Models: the default ``ModelConfig(rule=rule)`` three times, AdamW in
    batches of ``batch`` on every core: on MQAR episodes (loss on the
    recalled values; ``RECALL_*``), on pydoc text (``TEXT_*``), and on the
    same text with its memory frozen in training and at run time (attention
    only). ``steps`` replaces both step counts and ``chunk`` the text
    chunk (recall episodes keep ``RECALL_CHUNK``). ``out`` keeps the text
    model there and the recall model beside it (``.recall`` before the
    suffix); otherwise both live in a temporary folder for the run. The
    returned dict has keys ``trained``, ``frozen``, ``attention_only``,
    ``untrained`` (held-out text bits/byte), ``recall`` ({gap: (memory on,
    frozen)} accuracy at 8 pairs), ``sample`` (bytes), ``tok_per_s`` and
    ``train_seconds`` (all three trainings).
    """
    from hecate_edge import data, runtime, train
    from hecate_edge.config import ModelConfig
    from hecate_edge.evals import recall
    from hecate_edge.sampler import generate

    stream = stream if stream is not None else sys.stdout
    batch = BATCH if batch is None else batch
    cfg = ModelConfig(rule=rule)
    say = lambda text="": print(text, file=stream, flush=True)  # noqa: E731

    text_train = data.load_corpus("text", "train")
    text_held = data.load_corpus("text", "heldout")
    recall_train = recall.training_corpus(seed, n_episodes=20000, pair_counts=RECALL_PAIRS, max_gap=RECALL_MAX_GAP)
    parts = {
        "recall": (Part("key-value recall episodes (4 or 8 pairs)", steps or RECALL_STEPS, RECALL_CHUNK, RECALL_LR),
                   recall_train),
        "text": (Part("pydoc text", steps or TEXT_STEPS, chunk or TEXT_CHUNK, TEXT_LR), text_train),
        "attention_only": (Part("pydoc text, memory frozen (attention only)", steps or TEXT_STEPS,
                                chunk or TEXT_CHUNK, TEXT_LR, freeze_memory=True), text_train),
    }

    untrained = train.new_model(cfg, seed=seed)
    features = ", ".join(f for f, on in (("4-tap memory convolution", cfg.conv_kernel), ("rotary positions", cfg.rope),
                                         ("bounded steps", cfg.bounded_steps)) if on)
    say(f"hecate-edge demo: d={cfg.d_model}, {cfg.n_heads} heads, window {cfg.window}, {cfg.rule} rule, "
        f"{cfg.composition.upper()}, {features}; {untrained.n_params:,} parameters")
    with tempfile.TemporaryDirectory() as tmp:
        text_path = Path(out) if out else Path(tmp) / "demo.hct"
        paths = {"recall": text_path.with_suffix(".recall" + text_path.suffix), "text": text_path,
                 "attention_only": Path(tmp) / "attention_only.hct"}
        models, seconds, tokens = {}, 0.0, 0
        for n, (key, (part, corpus)) in enumerate(parts.items(), 1):
            say(f"[{n}/{len(parts)}] training {part.steps} steps x {batch} chunks x {part.chunk} bytes of {part.label} ...")
            model = train.new_model(cfg, seed=seed)
            config = train.TrainConfig(steps=part.steps, chunk=part.chunk, batch=batch, lr=part.lr, seed=seed,
                                       masked_loss=True, freeze_memory=part.freeze_memory)
            started = time.perf_counter()
            train.train(model, corpus, config, show_progress=show_progress, threads=threads)
            seconds += time.perf_counter() - started
            tokens += part.steps * batch * part.chunk
            models[key] = _reloaded(model, paths[key])  # everything below runs from the files
        say(f"trained in {seconds:.1f} s, {tokens / seconds:,.0f} tok/s")
        say()

        accuracy = {}
        for gap in RECALL_GAPS:
            episodes = recall.held_out_episodes(seed, RECALL_SHOWN, gap, RECALL_EPISODES)
            accuracy[gap] = tuple(recall.accuracy(models["recall"], episodes, freeze_memory=f) for f in (False, True))
        runs = {"trained": (models["text"], False), "frozen": (models["text"], True),
                "attention_only": (models["attention_only"], True), "untrained": (untrained, False)}
        text = {k: train.evaluate(m, text_held, freeze_memory=f).bits_per_byte for k, (m, f) in runs.items()}
        sample = generate(models["text"].session(), PROMPT.encode(), SAMPLE_BYTES, seed=seed, temperature=0.7,
                          top_k=20)
        tok_per_s = _process_speed(models["text"], text_held.tokens)
        sizes = {key: paths[key].stat().st_size for key in ("recall", "text")}

    say(f"recall beyond the attention window ({cfg.window} bytes), the recall model: {RECALL_SHOWN} key-value pairs,")
    say(f"then N filler bytes, then the keys again; accuracy of the value after each key ({RECALL_EPISODES} held-out")
    say(f"episodes, chance {recall.CHANCE:.0%})")
    say(f"  {'gap N':<40}" + "".join(f"{gap:>8}" for gap in RECALL_GAPS))
    say(f"  {'memory learning at test time':<40}" + "".join(f"{accuracy[g][0]:>8.0%}" for g in RECALL_GAPS))
    say(f"  {'memory updates switched off':<40}" + "".join(f"{accuracy[g][1]:>8.0%}" for g in RECALL_GAPS))
    say("  (learned in a sudden drop after a plateau whose length varies by seed: docs/EVALS.md,")
    say("  hecate-edge eval recall --rules delta --out recall.md --results recall.json --plot recall.png)")
    say()
    labels = {
        "trained": "text model, memory learning at test time",
        "frozen": "text model, memory updates switched off",
        "attention_only": "attention only (trained without memory)",
        "untrained": f"untrained (init seed {seed})",
    }
    say(f"held-out pydoc text ({text_held.tokens.size:,} bytes), bits/byte:")
    for key, label in labels.items():
        say(f"  {label:<44}{text[key]:>8.3f}")
    gain = text["attention_only"] - text["trained"]
    verb = "saves" if gain >= 0 else "costs"
    say(f"  the memory {verb} {abs(gain):.3f} bits/byte ({abs(gain) / text['attention_only']:.1%}) against "
        f"attention only at the same budget")
    say()
    say(f"sample of the text model (prompt {PROMPT!r}, temperature 0.7, top-k 20):")
    for line in (PROMPT.encode() + sample).decode("utf-8", "replace").splitlines():
        say(f"  | {line}")
    say()
    say(f"Session.process: {tok_per_s:,.0f} tok/s (single thread, logits on, held-out text)")
    where = {key: paths[key] if out else "temporary" for key in sizes}
    say(f"model files: text {where['text']} ({sizes['text'] / 1024:.0f} KiB), "
        f"recall {where['recall']} ({sizes['recall'] / 1024:.0f} KiB)")
    return {
        **text,
        "recall": accuracy,
        "sample": sample,
        "tok_per_s": tok_per_s,
        "train_seconds": seconds,
    }


def _reloaded(model, path: Path):
    """``model`` written to ``path`` (atomically) and loaded back through the C runtime."""
    from hecate_edge import atomic, runtime

    atomic.write_bytes(path, model.to_bytes())
    return runtime.Model(path)


def _process_speed(model, tokens: np.ndarray, block: int = 4096) -> float:
    """Tokens per second of Session.process (logits on) over ``tokens``, one session."""
    session = model.session(max_chunk=64)
    started = time.perf_counter()
    for lo in range(0, tokens.size, block):
        session.process(tokens[lo : lo + block])
    return tokens.size / (time.perf_counter() - started)
