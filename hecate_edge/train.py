"""Outer training and evaluation on the C runtime.

Owns AdamW (numpy), the seeded training loop around ``Session.train_chunk``
(MATH §7 gradients, §5 loss), held-out evaluation through ``Session.process``
(MATH §6 streaming) and float64 training checkpoints.
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hecate_edge.data import Corpus
from hecate_edge.progress import Progress
from hecate_edge.reference.mathfn import log_softmax
from hecate_edge.reference.rules import rule_by_name, rule_tensor_specs

_CONFIG_KEY = "__config__"


class AdamW:
    """AdamW (decoupled weight decay) updating numpy arrays in place.

    Moments are float64; parameters keep their own dtype (float32 views into
    the C model buffer, so the runtime sees each update at once). Weight
    decay applies only to matrices (``ndim >= 2``) not named in ``no_decay``,
    never to biases or other vectors. Per step ``t`` (1-based), for each parameter ``p`` with gradient
    ``g`` (after optional global-norm clipping)::

        p <- p - lr * wd * p                      (matrices only)
        m <- b1 m + (1 - b1) g ;  v <- b2 v + (1 - b2) g^2
        p <- p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
    """

    def __init__(
        self,
        params: Mapping[str, np.ndarray],
        lr: float = 3e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        clip_norm: float | None = None,
        no_decay: Collection[str] = (),
    ):
        self.params = dict(params)
        self.no_decay = frozenset(no_decay)
        self.lr = lr
        self.beta1, self.beta2 = betas
        self.eps = eps
        self.weight_decay = weight_decay
        self.clip_norm = clip_norm
        self.t = 0
        self.m = {name: np.zeros(p.shape, np.float64) for name, p in self.params.items()}
        self.v = {name: np.zeros(p.shape, np.float64) for name, p in self.params.items()}

    def step(self, grads: Mapping[str, np.ndarray], lr: float | None = None) -> float:
        """Apply one update from ``grads`` (same names and shapes as the parameters).

        ``lr`` overrides the base rate for this step (schedules). Returns the
        global gradient L2 norm before clipping.
        """
        lr = self.lr if lr is None else lr
        g64 = {name: np.asarray(grads[name], np.float64) for name in self.params}
        norm = math.sqrt(sum(float(np.square(g).sum()) for g in g64.values()))
        scale = 1.0
        if self.clip_norm is not None and norm > self.clip_norm:
            scale = self.clip_norm / norm
        self.t += 1
        bias1 = 1.0 - self.beta1**self.t
        bias2 = 1.0 - self.beta2**self.t
        for name, p in self.params.items():
            g = g64[name] * scale if scale != 1.0 else g64[name]
            m, v = self.m[name], self.v[name]
            m *= self.beta1
            m += (1.0 - self.beta1) * g
            v *= self.beta2
            v += (1.0 - self.beta2) * g * g
            value = p.astype(np.float64)
            if p.ndim >= 2 and self.weight_decay and name not in self.no_decay:
                value -= lr * self.weight_decay * value
            value -= lr * (m / bias1) / (np.sqrt(v / bias2) + self.eps)
            p[...] = value
        return norm


def lr_at(step: int, steps: int, lr: float, warmup: int, floor: float = 0.1) -> float:
    """Learning rate for 0-based ``step``: linear warmup over ``warmup`` steps,
    then cosine decay from ``lr`` to ``floor * lr`` at the last step."""
    if warmup > 0 and step < warmup:
        return lr * (step + 1) / warmup
    span = max(steps - warmup - 1, 1)
    progress = min(max(step - warmup, 0) / span, 1.0)
    return lr * (floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress)))


@dataclass
class TrainConfig:
    """Outer-loop settings. ``warmup=None`` means min(100, steps // 10).

    burn_in: tokens fed with ``Session.process`` (no gradient) right before
    each chunk, so the memory and attention window enter the chunk in a
    realistic mid-stream state; 0 (default) trains every chunk from the
    reset state.
    """

    steps: int = 1000
    chunk: int = 64
    lr: float = 3e-3
    weight_decay: float = 0.01
    clip_norm: float | None = 1.0
    warmup: int | None = None
    seed: int = 0
    burn_in: int = 0


def new_model(cfg, seed: int = 0, dtype: str = "f32"):
    """A freshly initialized runtime Model (MATH §8 init, cast to ``dtype``)."""
    from hecate_edge import runtime
    from hecate_edge.reference.init import init_params

    return runtime.Model(model_bytes(cfg, init_params(cfg, seed), dtype), precision=dtype)


def model_bytes(cfg, params: Mapping[str, np.ndarray], dtype: str = "f32") -> bytes:
    """Model file bytes for ``params`` (any float dtype) stored as ``dtype``."""
    from hecate_edge import format as fmt

    np_dtype = {"f32": np.float32, "f64": np.float64}[dtype]
    return fmt.write_model(cfg, {k: np.asarray(v, np_dtype) for k, v in params.items()}, dtype=dtype)


def train(
    model,
    corpora: Corpus | Sequence[Corpus],
    config: TrainConfig,
    mix: Sequence[float] | None = None,
    log_path: str | os.PathLike | None = None,
    show_progress: bool = True,
) -> list[dict]:
    """Train ``model`` (a runtime.Model) in place; return one record per step.

    Each step samples a corpus (weights ``mix``, default uniform), then a
    chunk of ``config.chunk`` input tokens and their next-token targets:
    anywhere in the stream, or at an episode start for corpora with
    ``starts`` (recall, so a chunk holds a whole episode when it is long
    enough). The session is **reset before every chunk**: ``train_chunk``
    treats the incoming state as a constant (MATH §7), so a state carried
    from the previous, unrelated random chunk would only be noise, and
    streaming consecutive chunks instead would correlate successive updates
    and feed states computed by older weights. Reset-per-chunk matches how a
    session starts on a fresh document; ``config.burn_in`` adds warm-up
    tokens when mid-stream states matter. The float32 weights are updated in
    place through ``model.weights()`` views, so the C runtime sees the new
    values without reopening.

    Records: ``step`` (1-based), ``loss`` (nats per token), ``bpb`` (bits
    per byte), ``lr``, ``grad_norm``, ``tokens`` (trained so far),
    ``seconds``. Written to ``log_path`` as JSON lines, or CSV when the name
    ends in ``.csv``.
    """
    corpora = [corpora] if isinstance(corpora, Corpus) else list(corpora)
    if not corpora:
        raise ValueError("no training corpus")
    if config.steps < 1 or config.chunk < 1 or config.burn_in < 0:
        raise ValueError("steps and chunk must be >= 1, burn_in >= 0")
    probs = None
    if mix is not None:
        probs = np.asarray(mix, np.float64)
        if probs.shape != (len(corpora),) or (probs < 0).any() or probs.sum() <= 0:
            raise ValueError("mix needs one non-negative weight per corpus")
        probs = probs / probs.sum()
    warmup = min(100, config.steps // 10) if config.warmup is None else config.warmup
    rng = np.random.default_rng(config.seed)
    session = model.session(max_chunk=config.chunk, max_train_tokens=config.chunk)
    # a rule's own tensors (e.g. the SSM's A_log) are not weights to shrink (D24)
    own = {name for name, _ in rule_tensor_specs(rule_by_name(model.config.rule), model.config.d_model,
                                                model.config.rule_hp)}
    optimizer = AdamW(
        model.weights(), lr=config.lr, weight_decay=config.weight_decay, clip_norm=config.clip_norm,
        no_decay={name for name in model.weights() if ".mem" in name and name.rsplit(".", 1)[-1] in own},
    )
    records: list[dict] = []
    start_time = time.perf_counter()
    smoothed = None
    with _LossLog(log_path) as log, Progress(config.steps, "train", quiet=not show_progress) as bar:
        for step in range(config.steps):
            corpus = corpora[rng.choice(len(corpora), p=probs) if len(corpora) > 1 else 0]
            begin = _sample_start(rng, corpus, config.chunk, config.burn_in)
            session.reset()
            if config.burn_in:
                session.process(corpus.tokens[begin - config.burn_in : begin], want_logits=False)
            inputs = corpus.tokens[begin : begin + config.chunk]
            targets = corpus.tokens[begin + 1 : begin + config.chunk + 1]
            loss, flat = session.train_chunk(inputs, targets)
            lr = lr_at(step, config.steps, config.lr, warmup)
            grad_norm = optimizer.step(model.split_grads(flat), lr=lr)
            record = {
                "step": step + 1,
                "loss": float(loss),
                "bpb": float(loss) / math.log(2),
                "lr": lr,
                "grad_norm": grad_norm,
                "tokens": (step + 1) * config.chunk,
                "seconds": time.perf_counter() - start_time,
            }
            records.append(record)
            log.write(record)
            smoothed = record["bpb"] if smoothed is None else 0.98 * smoothed + 0.02 * record["bpb"]
            bar.update(bpb=round(smoothed, 4))
    return records


@dataclass
class EvalResult:
    """Held-out scores: ``bits_per_byte`` over every predicted byte; the
    ``recall_*`` fields over masked positions (None without a mask)."""

    bits_per_byte: float
    n_predicted: int
    seconds: float
    recall_bits_per_byte: float | None = None
    recall_accuracy: float | None = None
    n_recall: int = 0


def evaluate(
    model,
    tokens: np.ndarray | Corpus,
    mask: np.ndarray | None = None,
    freeze_memory: bool = False,
    block: int = 4096,
    show_progress: bool = False,
) -> EvalResult:
    """Stream ``tokens`` through one fresh session and score next-byte prediction.

    Byte ``i + 1`` is predicted from bytes ``0..i`` (MATH §5 cross-entropy),
    fed with ``Session.process`` in blocks of ``block`` tokens with the state
    carried across blocks (MATH §6), never reset. ``mask`` (aligned with
    ``tokens``, as in :class:`~hecate_edge.data.Corpus`) selects predicted
    bytes scored separately, with greedy (argmax) accuracy. A Corpus supplies
    both. ``freeze_memory`` runs the memory-frozen ablation.
    """
    if isinstance(tokens, Corpus):
        tokens, mask = tokens.tokens, tokens.mask if mask is None else mask
    tokens = np.ascontiguousarray(tokens, dtype=np.uint32)
    if tokens.size < 2:
        raise ValueError("evaluation needs at least 2 tokens")
    inputs, targets = tokens[:-1], tokens[1:]
    target_mask = None if mask is None else np.asarray(mask, bool)[1:]
    session = model.session(max_chunk=64, freeze_memory=freeze_memory)
    total = masked_total = 0.0
    masked_n = correct = 0
    started = time.perf_counter()
    with Progress(len(inputs), "eval", quiet=not show_progress, unit="tok") as bar:
        for lo in range(0, len(inputs), block):
            hi = min(lo + block, len(inputs))
            logits = np.asarray(session.process(inputs[lo:hi]), np.float64)
            nll = -log_softmax(logits)[np.arange(hi - lo), targets[lo:hi]]
            total += float(nll.sum())
            if target_mask is not None:
                sel = target_mask[lo:hi]
                masked_total += float(nll[sel].sum())
                masked_n += int(sel.sum())
                correct += int((logits[sel].argmax(axis=1) == targets[lo:hi][sel]).sum())
            bar.update(hi - lo)
    seconds = time.perf_counter() - started
    result = EvalResult(total / len(inputs) / math.log(2), len(inputs), seconds)
    if target_mask is not None and masked_n:
        result.recall_bits_per_byte = masked_total / masked_n / math.log(2)
        result.recall_accuracy = correct / masked_n
        result.n_recall = masked_n
    return result


def save_checkpoint(path: str | os.PathLike, cfg, params: Mapping[str, np.ndarray]) -> None:
    """Write a float64 checkpoint: one npz entry per tensor plus the config as JSON."""
    arrays = {name: np.asarray(value, np.float64) for name, value in params.items()}
    arrays[_CONFIG_KEY] = np.array(json.dumps(cfg.to_dict()))
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def load_checkpoint(path: str | os.PathLike):
    """Read a checkpoint written by :func:`save_checkpoint`: ``(cfg, params float64)``."""
    from hecate_edge.config import ModelConfig

    with np.load(path, allow_pickle=False) as npz:
        if _CONFIG_KEY not in npz.files:
            raise ValueError(f"{path}: not a hecate_edge checkpoint (no {_CONFIG_KEY} entry)")
        fields = json.loads(str(npz[_CONFIG_KEY]))
        params = {name: np.asarray(npz[name], np.float64) for name in npz.files if name != _CONFIG_KEY}
    return ModelConfig.from_dict(fields), params


def _sample_start(rng: np.random.Generator, corpus: Corpus, chunk: int, burn_in: int) -> int:
    """A chunk start with ``burn_in`` tokens before it and ``chunk + 1`` from it."""
    last = len(corpus.tokens) - chunk - 1
    if last < burn_in:
        raise ValueError(f"corpus {corpus.name!r} is too short for chunk {chunk} + burn_in {burn_in}")
    if corpus.starts is not None:
        starts = corpus.starts[(corpus.starts >= burn_in) & (corpus.starts <= last)]
        if starts.size:
            return int(starts[rng.integers(starts.size)])
    return int(rng.integers(burn_in, last + 1))


class _LossLog:
    """Per-step records to a JSONL file, or CSV when the name ends in ``.csv``."""

    def __init__(self, path: str | os.PathLike | None):
        self.path = None if path is None else Path(path)
        self._file = None
        self._csv = None

    def __enter__(self) -> "_LossLog":
        if self.path is not None:
            self._file = open(self.path, "w", newline="")
        return self

    def write(self, record: dict) -> None:
        if self._file is None:
            return
        if self.path.suffix.lower() == ".csv":
            if self._csv is None:
                self._csv = csv.DictWriter(self._file, fieldnames=list(record))
                self._csv.writeheader()
            self._csv.writerow(record)
        else:
            self._file.write(json.dumps(record) + "\n")

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            self._file.close()
