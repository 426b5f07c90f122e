"""``hecate-edge demo``: train micro models briefly and show what test-time learning buys.

Owns the demo script: train (MATH §7) a model on key-value recall episodes
and one on text, plus the same text model with its memory frozen in training
(attention only); reload each through the C runtime's loader; then show
recall beyond the attention window (memory on vs frozen, §3.2 ablation) and
held-out text loss (MATH §5) against attention only.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

# Recall (MQAR, hecate_edge.evals.recall) is learned in a sudden drop after a
# plateau. With the shifted key start (DECISIONS D68) the plateau ends within
# ~1000 steps; measured (this 2-core machine, one thread per run, delta,
# 8 pairs at gaps 0 / 64 / 256, docs/EVALS.md "The demo's recall"): on the
# eval's episodes of 4, 8 or 16 pairs, 2000 steps x 8 x 128 bytes at lr 1e-2
# recall 0.87-1.00 at gap 256 in each of seeds 0-10 (with the identity start
# and 4 or 8 pairs: 7 of 11 seeds, the rest 0.34-0.47 on the plateau). The
# demo trains seed 0, so it recalls on every machine: the result does not
# depend on the thread count.
RECALL_STEPS = 2000
RECALL_CHUNK = 128           # a chunk starts at an episode (<= 98 bytes here) and holds the next ones
RECALL_LR = 1e-2
RECALL_PAIRS = (4, 8, 16)    # pairs per training episode (the eval's)
RECALL_MAX_GAP = 32          # filler bytes between the pairs and the queries in training
RECALL_EPISODES_TRAIN = 20000
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
LR_HALVINGS = 2              # a part that goes non-finite trains again at half the lr, this often (D69)
PROMPT = "The return statement"
SAMPLE_BYTES = 160


class DemoStopped(RuntimeError):
    """A demo training went non-finite at every learning rate it tried."""


@dataclass(frozen=True)
class Part:
    """One training of the demo: its data, its budget, and whether the memory is frozen."""

    label: str
    corpus: object   # hecate_edge.data.Corpus
    steps: int
    chunk: int
    lr: float
    freeze_memory: bool = False


def recall_path(out: str | Path) -> Path:
    """Where ``--out`` keeps the recall model: NAME.recall.SUFFIX beside NAME.SUFFIX (.hct without one)."""
    out = Path(out)
    return out.with_name(out.stem + ".recall" + (out.suffix or ".hct"))


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
    """Train, reload and report; returns the numbers it prints.

    Models: the default ``ModelConfig(rule=rule)`` three times, AdamW in
    batches of ``batch`` on ``threads`` cores (None: every core the process
    may use): on MQAR episodes (loss on the recalled values; ``RECALL_*``),
    on pydoc text (``TEXT_*``), and on the same text with its memory frozen
    in training and at run time (attention only). ``steps`` replaces both
    step counts and ``chunk`` the text chunk (recall episodes keep
    ``RECALL_CHUNK``). Each model is reloaded from its file bytes through
    the C loader before it is scored. ``out`` keeps the text model there and
    the recall model at ``recall_path(out)``, written once all training is
    done. The returned dict has keys ``trained``, ``frozen``,
    ``attention_only``, ``untrained`` (held-out text bits/byte), ``recall``
    ({gap: (memory on, frozen)} accuracy at 8 pairs), ``sample`` (bytes),
    ``tok_per_s`` and ``train_seconds`` (all three trainings).
    """
    from hecate_edge import atomic, data, runtime, train
    from hecate_edge.config import ModelConfig
    from hecate_edge.evals import recall
    from hecate_edge.sampler import generate

    stream = stream if stream is not None else sys.stdout
    batch = BATCH if batch is None else batch
    cfg = ModelConfig(rule=rule)
    say = lambda text="": print(text, file=stream, flush=True)  # noqa: E731

    untrained = train.new_model(cfg, seed=seed)
    features = ", ".join(f for f, on in (("4-tap memory convolution", cfg.conv_kernel), ("rotary positions", cfg.rope),
                                         ("bounded steps", cfg.bounded_steps)) if on)
    say(f"hecate-edge demo: d={cfg.d_model}, {cfg.n_heads} heads, window {cfg.window}, {cfg.rule} rule, "
        f"{cfg.composition.upper()}, {features}; {untrained.n_params:,} parameters")
    parts = _parts(steps, chunk, batch, seed)
    files, models, seconds, tokens = {}, {}, 0.0, 0
    for n, (key, part) in enumerate(parts.items(), 1):
        say(f"[{n}/{len(parts)}] training {part.steps} steps x {batch} chunks x {part.chunk} bytes of {part.label} ...")
        started = time.perf_counter()
        model, steps_run = _train_part(cfg, part, batch, seed, threads, show_progress, say)
        seconds += time.perf_counter() - started
        tokens += steps_run * batch * part.chunk
        files[key] = model.to_bytes()
        models[key] = runtime.Model(files[key])  # everything below runs from the model file
    say(f"trained in {seconds:.1f} s, {tokens / seconds:,.0f} tok/s")
    say()

    accuracy = {}
    for gap in RECALL_GAPS:
        episodes = recall.held_out_episodes(seed, RECALL_SHOWN, gap, RECALL_EPISODES)
        accuracy[gap] = tuple(recall.accuracy(models["recall"], episodes, freeze_memory=f) for f in (False, True))
    _print_recall(say, cfg.rule, cfg.window, accuracy, recall.CHANCE)

    text_held = data.load_corpus("text", "heldout")
    runs = {"trained": (models["text"], False), "frozen": (models["text"], True),
            "attention_only": (models["attention_only"], True), "untrained": (untrained, False)}
    text = {k: train.evaluate(m, text_held, freeze_memory=f).bits_per_byte for k, (m, f) in runs.items()}
    _print_text(say, text_held.tokens.size, text, seed)

    sample = generate(models["text"].session(), PROMPT.encode(), SAMPLE_BYTES, seed=seed, temperature=0.7, top_k=20)
    say(f"sample of the text model (prompt {PROMPT!r}, temperature 0.7, top-k 20):")
    for line in (PROMPT.encode() + sample).decode("utf-8", "replace").splitlines():
        say(f"  | {line}")
    say()
    tok_per_s = _process_speed(models["text"], text_held.tokens)
    say(f"Session.process: {tok_per_s:,.0f} tok/s (single thread, logits on, held-out text, "
        f"{models['text'].isa} build of the runtime)")
    if out:
        atomic.write_bytes(out, files["text"])
        atomic.write_bytes(recall_path(out), files["recall"])
        where = f"text {out}, recall {recall_path(out)}"
    else:
        where = "not kept (--out keeps them)"
    say(f"model files ({len(files['text']) / 1024:.0f} KiB each): {where}")
    return {
        **text,
        "recall": accuracy,
        "sample": sample,
        "tok_per_s": tok_per_s,
        "train_seconds": seconds,
    }


def _train_part(cfg, part: Part, batch: int, seed: int, threads, show_progress: bool, say):
    """Train a new model on ``part``; returns it and the steps trained, failed tries included.
    The recipe's learning rate is delta's: a rule whose memory goes non-finite at it
    (e.g. yaad on text at 2e-2) trains again from its init at half the rate, at most
    LR_HALVINGS times, and says so; after that the demo stops with the trainer's diagnosis."""
    from hecate_edge import train
    from hecate_edge.nonfinite import NonFiniteTraining

    lr, steps_run, halvings = part.lr, 0, 0
    while True:
        model = train.new_model(cfg, seed=seed)
        config = train.TrainConfig(steps=part.steps, chunk=part.chunk, batch=batch, lr=lr, seed=seed,
                                   masked_loss=True, freeze_memory=part.freeze_memory)
        try:
            train.train(model, part.corpus, config, show_progress=show_progress, threads=threads)
            return model, steps_run + part.steps
        except NonFiniteTraining as failure:
            steps_run += failure.step
            if halvings == LR_HALVINGS:
                raise DemoStopped(f"{cfg.rule} went non-finite on {part.label} at lr {lr:g} too ({failure}); "
                                  f"train it with `hecate-edge train --rule {cfg.rule} --lr ...`") from None
            say(f"  lr {lr:g} went non-finite at {failure}; training again from the init at lr {lr / 2:g}")
            lr, halvings = lr / 2, halvings + 1


def _parts(steps: int | None, chunk: int | None, batch: int, seed: int) -> dict[str, Part]:
    """The demo's three trainings; ``steps``/``chunk`` None: the defaults above."""
    from hecate_edge import data
    from hecate_edge.evals import recall

    # the default budget draws from the episode pool it was measured with; a few --steps need fewer
    n_episodes = RECALL_EPISODES_TRAIN if steps is None else min(RECALL_EPISODES_TRAIN, 4 * batch * steps + 100)
    episodes = recall.training_corpus(seed, n_episodes=n_episodes, pair_counts=RECALL_PAIRS,
                                      max_gap=RECALL_MAX_GAP)
    text = data.load_corpus("text", "train")
    text_steps = TEXT_STEPS if steps is None else steps
    text_chunk = TEXT_CHUNK if chunk is None else chunk
    return {
        "recall": Part("key-value recall episodes (4, 8 or 16 pairs)", episodes,
                       RECALL_STEPS if steps is None else steps, RECALL_CHUNK, RECALL_LR),
        "text": Part("pydoc text", text, text_steps, text_chunk, TEXT_LR),
        "attention_only": Part("pydoc text, memory frozen (attention only)", text, text_steps, text_chunk, TEXT_LR,
                               freeze_memory=True),
    }


def _print_recall(say, rule: str, window: int, accuracy: dict, chance: float) -> None:
    say(f"recall beyond the attention window ({window} bytes), the recall model: {RECALL_SHOWN} key-value pairs,")
    say(f"then N filler bytes, then the keys again; accuracy of the value after each key ({RECALL_EPISODES} held-out")
    say(f"episodes, chance {chance:.0%})")
    say(f"  {'gap N':<40}" + "".join(f"{gap:>8}" for gap in RECALL_GAPS))
    say(f"  {'memory learning at test time':<40}" + "".join(f"{accuracy[g][0]:>8.0%}" for g in RECALL_GAPS))
    say(f"  {'memory updates switched off':<40}" + "".join(f"{accuracy[g][1]:>8.0%}" for g in RECALL_GAPS))
    say("  (learned in a sudden drop after a plateau whose length varies by seed: docs/EVALS.md,")
    say(f"  hecate-edge eval recall --rules {rule} --out recall.md --results recall.json --plot recall.png)")
    say()


def _print_text(say, n_bytes: int, bits: dict, seed: int) -> None:
    labels = {
        "trained": "text model, memory learning at test time",
        "frozen": "text model, memory updates switched off",
        "attention_only": "attention only (memory frozen in training)",
        "untrained": f"untrained (init seed {seed})",
    }
    say(f"held-out pydoc text ({n_bytes:,} bytes), bits/byte:")
    for key, label in labels.items():
        say(f"  {label:<44}{bits[key]:>8.3f}")
    gain = bits["attention_only"] - bits["trained"]
    verb = "saves" if gain >= 0 else "costs"
    say(f"  the memory {verb} {abs(gain):.3f} bits/byte ({abs(gain) / bits['attention_only']:.1%}) against "
        f"attention only at the same budget")
    say()


def _process_speed(model, tokens: np.ndarray, block: int = 4096) -> float:
    """Tokens per second of Session.process (logits on) over ``tokens``, one session."""
    session = model.session(max_chunk=64)
    started = time.perf_counter()
    for lo in range(0, tokens.size, block):
        session.process(tokens[lo : lo + block])
    return tokens.size / (time.perf_counter() - started)
