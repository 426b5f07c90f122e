"""Outer training and evaluation on the C runtime.

Owns the seeded training loop around ``Session.train_chunk`` (MATH §7
gradients, §5 loss; optimizers in ``hecate_edge.optim``), resumable training
checkpoints, and held-out evaluation through ``Session.process`` (MATH §6
streaming).
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from hecate_edge import atomic
from hecate_edge.data import Corpus
from hecate_edge.grad_pool import ChunkFailure, ChunkJob, GradientPool
from hecate_edge.nonfinite import NonFiniteTraining, diagnose, is_nonfinite_error, nonfinite_gradients
from hecate_edge.optim import OPTIMIZERS, Optimizer
from hecate_edge.progress import Progress
from hecate_edge.reference.mathfn import log_softmax
from hecate_edge.reference.rules import rule_by_name, rule_tensor_specs

_CONFIG_KEY = "__config__"
_TRAIN_KEY = "__train__"     # a training checkpoint's TrainConfig, steps done, RNG state
_OPT_PREFIX = "optimizer/"   # ... and its optimizer state


_LEVEL_PARAM = re.compile(r"blk\d+\.mem(\d+)\.")  # a memory level's parameter

EVAL_TOKENS = 1 << 16           # held-out bytes a periodic evaluation reads at most
NONFINITE_POLICIES = ("stop", "skip")
MAX_SKIPPED = 10                # "skip" gives up after this many failed steps in a row
SHARED_PROGRESS_INTERVAL = 30.0  # seconds between the progress lines of a labelled training
IGNORED_TARGET = 0xFFFFFFFF     # a target the loss skips (any id >= vocab, MATH §5)
_RECORD_FIELDS = ("step", "loss", "bpb", "lr", "grad_norm", "tokens", "seconds")

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

    freq_anneal: for the first that many steps the learned frequency gates
    (MATH §6.2) follow the fixed schedule (every level fires at the end of
    each block, no gate gradient); then they decide.

    batch: chunks per step; the step follows their mean gradient. The CMS
    levels' periods (MATH §6.1) count the tokens of one chunk stream, so a
    step advances that clock by ``chunk`` whatever the batch.

    freeze_memory: train with the memory's test-time updates off (it reads
    its initial state throughout): the no-memory baseline of the evals, an
    attention model with the same parameter tensors.

    masked_loss: for corpora with a ``mask`` (recall episodes), score only
    the masked bytes (the recalled values); elsewhere the loss is every byte.
    """

    steps: int = 1000
    chunk: int = 64
    batch: int = 1
    freeze_memory: bool = False
    masked_loss: bool = False
    lr: float = 3e-3
    weight_decay: float = 0.01
    clip_norm: float | None = 1.0
    warmup: int | None = None
    seed: int = 0
    burn_in: int = 0
    optimizer: str = "adamw"   # a name of hecate_edge.optim.OPTIMIZERS (MATH §10)
    freq_anneal: int = 0

    @property
    def warmup_steps(self) -> int:
        """The warmup steps lr_at takes: ``warmup``, or min(100, steps // 10) where it is None."""
        return min(100, self.steps // 10) if self.warmup is None else self.warmup


@dataclass
class TrainState:
    """Where a run stands: steps done, the sampling RNG and the optimizer.
    A training checkpoint holds it with the weights and configs (D26)."""

    step: int
    rng: np.random.Generator
    optimizer: Optimizer


def held_levels(periods, tokens_before: int, chunk: int) -> set[int]:
    """MATH §6.1 (A7) in outer training: level l's parameters take a step when
    the training token count crosses a multiple of its period C_l during the
    step's chunk; otherwise their gradients wait in error buffers."""
    return {level for level, period in enumerate(periods)
            if (tokens_before + chunk) // period == tokens_before // period}


def held_params(names, periods, tokens_before: int, chunk: int) -> set[str]:
    """The parameter names (blk<l>.mem<i>.*) of the levels held this step."""
    held = held_levels(periods, tokens_before, chunk)
    return {name for name in names if (m := _LEVEL_PARAM.match(name)) and int(m.group(1)) in held}


def make_optimizer(model, config: TrainConfig) -> Optimizer:
    """config.optimizer over model.weights(); a rule's own tensors (e.g. the
    SSM's A_log) and the short convolution's taps (MATH §3.1: per-channel
    filters that start at the identity, not weight matrices) are not weights
    to shrink (D24)."""
    if config.optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {config.optimizer!r} (known: {sorted(OPTIMIZERS)})")
    weights = model.weights()
    native = {"native": True} if config.optimizer == "adamw" else {}  # the C update, same bits
    return OPTIMIZERS[config.optimizer](weights, lr=config.lr, weight_decay=config.weight_decay,
                                        clip_norm=config.clip_norm, no_decay=undecayed(model.config, weights),
                                        **native)


def undecayed(cfg, names) -> set[str]:
    """Of the tensor names, the memory tensors weight decay leaves alone
    although they may be matrices: a rule's own tensors (e.g. the SSM's A_log)
    and the short convolution's taps (MATH §3.1; D24).  Vectors are never decayed."""
    own = {name for name, _ in rule_tensor_specs(rule_by_name(cfg.rule), cfg.d_model, cfg.rule_hp)}
    tails = {name: name.rsplit(".", 1)[-1] for name in names if ".mem" in name}
    return {name for name, tail in tails.items() if tail in own or tail.startswith("conv_")}


def new_model(cfg, seed: int = 0, dtype: str = "f32"):
    """A freshly initialized runtime Model (MATH §8 init, cast to ``dtype``)."""
    from hecate_edge import runtime
    from hecate_edge.reference.init import init_params

    return runtime.Model(model_bytes(cfg, init_params(cfg, seed), dtype), precision=dtype)


def model_bytes(cfg, params: Mapping[str, np.ndarray], dtype: str = "f32", quantize: str | None = None) -> bytes:
    """Model file bytes for ``params`` (any float dtype) stored as ``dtype``,
    the matrices as int8 with row scales when quantize="int8" or "w8a16"
    (quantized from the ``dtype`` values; format.write_model)."""
    from hecate_edge import format as fmt

    np_dtype = {"f32": np.float32, "f64": np.float64}[dtype]
    return fmt.write_model(cfg, {k: np.asarray(v, np_dtype) for k, v in params.items()}, dtype=dtype,
                           quantize=quantize)


def train(
    model,
    corpora: Corpus | Sequence[Corpus],
    config: TrainConfig,
    mix: Sequence[float] | None = None,
    log_path: str | os.PathLike | None = None,
    show_progress: bool = True,
    state: TrainState | None = None,
    until: int | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 0,
    threads: int | None = None,
    val: Sequence[Corpus] = (),
    eval_every: int = 0,
    eval_tokens: int = EVAL_TOKENS,
    on_nonfinite: str = "stop",
    progress_label: str | None = None,
) -> list[dict]:
    """Train ``model`` (a runtime.Model) in place; return one record per step.

    Each step draws ``config.batch`` chunks; for each one it samples a corpus
    (weights ``mix``, default uniform), then a chunk of ``config.chunk``
    input tokens and their next-token targets: anywhere in the stream, or at
    an episode start for corpora with ``starts`` (recall, so a chunk holds a
    whole episode when it is long enough). The step follows the batch's mean
    gradient. The chunks run on ``threads`` worker threads (None: every
    core); their gradients are added in chunk order, so the weights are the
    same bits for any thread count (``hecate_edge.grad_pool``).

    Each chunk starts from a **reset session**: ``train_chunk`` treats the
    incoming state as a constant (MATH §7), so a state carried from another,
    unrelated random chunk would only be noise, and streaming consecutive
    chunks instead would correlate successive updates and feed states
    computed by older weights. Reset-per-chunk matches how a session starts
    on a fresh document; ``config.burn_in`` adds warm-up tokens when
    mid-stream states matter. The float32 weights are updated in place
    through ``model.weights()`` views, so the C runtime sees the new values
    without reopening.

    Records: ``step`` (1-based), ``loss`` (nats per token), ``bpb`` (bits
    per byte), ``lr``, ``grad_norm``, ``tokens`` (trained so far),
    ``seconds``, and ``val_bpb`` (held-out bits per byte) on the steps that
    evaluate ``val``: every ``eval_every`` steps (0: never) and the last,
    over at most ``eval_tokens`` bytes (:func:`evaluate_corpora`). Written
    to ``log_path`` as JSON lines, or CSV when the name ends in ``.csv``
    (appended to when resuming).

    ``state`` resumes a run (``load_training_state``) exactly where it
    stopped; ``until`` stops after that many steps of ``config.steps`` (the
    schedule still spans all of them). With ``checkpoint``, the training
    state is written there every ``checkpoint_every`` steps (0: only at the
    end) and when the run is interrupted (Ctrl-C), so ``state`` can pick it up.

    A step whose chunk goes non-finite (HECATE_E_NONFINITE) applies no
    update, so the weights stay the last good ones. ``on_nonfinite="stop"``
    writes the checkpoint (if any) and raises
    :class:`~hecate_edge.nonfinite.NonFiniteTraining` saying which token or
    tensor failed; ``"skip"`` drops that step's batch and goes on, and stops
    the same way after ``MAX_SKIPPED`` failed steps in a row.

    ``progress_label``: with ``show_progress``, the progress comes as whole
    lines starting with this label every ``SHARED_PROGRESS_INTERVAL`` seconds,
    also on a terminal, so several trainings can share one (the evals' jobs).
    """
    corpora = [corpora] if isinstance(corpora, Corpus) else list(corpora)
    if not corpora:
        raise ValueError("no training corpus")
    if config.steps < 1 or config.chunk < 1 or config.batch < 1 or config.burn_in < 0 or config.freq_anneal < 0:
        raise ValueError("steps, chunk and batch must be >= 1, burn_in and freq_anneal >= 0")
    if not (math.isfinite(config.lr) and config.lr > 0 and math.isfinite(config.weight_decay)
            and config.weight_decay >= 0 and (config.clip_norm is None or config.clip_norm > 0)):
        raise ValueError(f"lr must be a finite number > 0, weight_decay finite and >= 0, clip_norm None or > 0; "
                         f"got {config.lr}, {config.weight_decay}, {config.clip_norm}")
    if on_nonfinite not in NONFINITE_POLICIES:
        raise ValueError(f"on_nonfinite must be one of {NONFINITE_POLICIES}, got {on_nonfinite!r}")
    if eval_every < 0:
        raise ValueError("eval_every must be >= 0")
    probs = None
    if mix is not None:
        probs = np.asarray(mix, np.float64)
        if probs.shape != (len(corpora),) or (probs < 0).any() or probs.sum() <= 0:
            raise ValueError("mix needs one non-negative weight per corpus")
        probs = probs / probs.sum()
    warmup = config.warmup_steps
    silent = untrained_levels(model.config.periods, config.chunk, config.burn_in)
    if silent:
        _warn(f"memory levels {', '.join(map(str, silent))} (periods "
              f"{', '.join(str(model.config.periods[l]) for l in silent)}) never fire inside a chunk of "
              f"{config.chunk} tokens after {config.burn_in} burn-in tokens: they get no gradient in training, "
              "yet fire at run time; choose --chunk and --burn-in so that one of their periods ends in the chunk "
              "(MATH §6.1)")
    if state is None:
        state = TrainState(0, np.random.default_rng(config.seed), make_optimizer(model, config))
    until = config.steps if until is None else min(until, config.steps)
    records: list[dict] = []
    start_time = time.perf_counter()
    smoothed = None
    skipped = 0
    rng, optimizer = state.rng, state.optimizer
    step_tokens = config.chunk * config.batch
    fields = _RECORD_FIELDS + (("val_bpb",) if val else ())
    shared = {} if progress_label is None else {"lines": True, "log_interval": SHARED_PROGRESS_INTERVAL}
    with LossLog(log_path, fields, append=state.step > 0) as log, \
            GradientPool(model, config.chunk, threads, freeze_memory=config.freeze_memory,
                         batch=config.batch) as pool, \
            _updates_on(optimizer, pool), \
            Progress(until - state.step, progress_label or "train", quiet=not show_progress,
                     **shared) as bar, \
            _StepBoundaryInterrupt(enabled=checkpoint is not None) as interrupt:
        try:
            while state.step < until:
                interrupt.check()
                step = state.step
                fixed = step < config.freq_anneal  # MATH §6.2 annealing
                jobs = [draw_job(rng, corpora, probs, config) for _ in range(config.batch)]
                results = pool.run(jobs, fixed_schedule=fixed)
                loss, flat, failure = _batch_mean(model, pool, jobs, results, fixed, config.freeze_memory)
                if failure is not None:
                    skipped += 1
                    if on_nonfinite == "skip" and skipped < MAX_SKIPPED:
                        state.step += 1
                        bar.update(skipped=skipped)
                        _warn(f"step {step + 1}: skipped, {failure}")
                        continue
                    if checkpoint is not None:
                        save_training_state(checkpoint, model, config, state)
                    raise NonFiniteTraining(step + 1, failure)
                skipped = 0
                lr = lr_at(step, config.steps, config.lr, warmup)
                hold = held_params(optimizer.params, model.config.periods, step * config.chunk, config.chunk)
                grad_norm = optimizer.step(model.split_grads(flat), lr=lr, hold=hold)
                state.step += 1
                seconds = time.perf_counter() - start_time
                record = {
                    "step": step + 1,
                    "loss": float(loss),
                    "bpb": float(loss) / math.log(2),
                    "lr": lr,
                    "grad_norm": grad_norm,
                    "tokens": (step + 1) * step_tokens,
                    "seconds": seconds,
                }
                if val and ((eval_every and state.step % eval_every == 0) or state.step == until):
                    record["val_bpb"] = evaluate_corpora(model, val, eval_tokens).bits_per_byte
                records.append(record)
                log.write(record)
                smoothed = record["bpb"] if smoothed is None else 0.98 * smoothed + 0.02 * record["bpb"]
                shown = {"bpb": round(smoothed, 4), "tok/s": f"{len(records) * step_tokens / seconds:,.0f}"}
                if "val_bpb" in record:
                    shown["val"] = round(record["val_bpb"], 4)
                bar.update(**shown)
                if checkpoint is not None and checkpoint_every and state.step % checkpoint_every == 0 \
                        and state.step < until:
                    save_training_state(checkpoint, model, config, state)
        except KeyboardInterrupt:  # raised at a step boundary: the state is whole, keep it
            if checkpoint is not None:
                save_training_state(checkpoint, model, config, state)
            raise
    if checkpoint is not None:
        save_training_state(checkpoint, model, config, state)
    return records


@contextlib.contextmanager
def _updates_on(optimizer, pool: GradientPool):
    """The optimizer's updates on the pool's workers while it lives (AdamW native, D81)."""
    optimizer.workers = pool.workers
    try:
        yield
    finally:
        optimizer.workers = None


def draw_job(rng: np.random.Generator, corpora: list[Corpus], probs, config: TrainConfig) -> ChunkJob:
    """One training chunk: a corpus (by ``probs``), then a start in it."""
    corpus = corpora[rng.choice(len(corpora), p=probs) if len(corpora) > 1 else 0]
    begin = _sample_start(rng, corpus, config.chunk, config.burn_in)
    tokens = corpus.tokens
    targets = np.asarray(tokens[begin + 1 : begin + config.chunk + 1])
    if config.masked_loss and corpus.mask is not None:  # targets >= vocab are not scored (MATH §5)
        targets = np.where(corpus.mask[begin + 1 : begin + config.chunk + 1], targets, IGNORED_TARGET)
    return ChunkJob(burn_in=np.asarray(tokens[begin - config.burn_in : begin]),
                    inputs=np.asarray(tokens[begin : begin + config.chunk]), targets=targets)


def _batch_mean(model, pool: GradientPool, jobs: list[ChunkJob], results: list, fixed: bool, frozen: bool):
    """``(loss, mean gradient, None)`` of a batch whose chunks all trained to
    finite numbers; else ``(None, None, why)`` describing the first
    non-finite chunk. Other errors are raised as they are. The finiteness
    scan runs once over the mean (on the workers, with it); chunks are scanned
    only when it fails."""
    for index, result in enumerate(results):
        if isinstance(result, ChunkFailure):
            if not is_nonfinite_error(result.error):
                raise result.error
            return None, None, _failed(index, diagnose(model, jobs[index], fixed, frozen))
    loss, flat, finite = pool.mean(results)
    if math.isfinite(loss) and finite:
        return loss, flat, None
    for index, (chunk_loss, grads) in enumerate(results):
        bad = nonfinite_gradients(model, grads)
        if bad or not math.isfinite(chunk_loss):
            return None, None, _failed(index, f"non-finite {'gradients for ' + ', '.join(bad) if bad else 'loss'}")
    return None, None, "the batch's mean gradient overflowed; no update was applied"


def _failed(index: int, where: str) -> str:
    return f"chunk {index} of the batch went non-finite: {where}; no update was applied"


def untrained_levels(periods, chunk: int, burn_in: int) -> list[int]:
    """The CMS levels (MATH §6.1) that never publish inside a training chunk:
    the session is reset per chunk, so level l fires at positions n with
    (n + 1) mod C_l = 0, and none of them may fall in burn_in .. burn_in +
    chunk - 1. Such a level gets no gradient."""
    return [level for level, period in enumerate(periods) if (burn_in + chunk) // period == burn_in // period]


def _warn(message: str) -> None:
    print(f"hecate-edge train: {message}", file=sys.stderr, flush=True)


def evaluate_corpora(model, corpora: Sequence[Corpus], max_tokens: int = EVAL_TOKENS) -> EvalResult:
    """Held-out bits/byte over ``corpora``: each streamed through its own
    fresh session (:func:`evaluate`), at most ``max_tokens`` bytes in all,
    shared evenly (the first bytes of each); corpora of fewer than 2 bytes are
    skipped. The result counts every predicted byte once."""
    usable = [c for c in corpora if len(c.tokens) >= 2]
    if not usable or max_tokens < 2:
        raise ValueError("no held-out data to evaluate (every stream is shorter than 2 bytes)")
    share = max(max_tokens // len(usable), 2)
    total = predicted = 0.0
    seconds = 0.0
    for corpus in usable:
        result = evaluate(model, np.asarray(corpus.tokens[:share]))
        total += result.bits_per_byte * result.n_predicted
        predicted += result.n_predicted
        seconds += result.seconds
    return EvalResult(total / predicted, int(predicted), seconds)


class _StepBoundaryInterrupt:
    """While enabled (and in the main thread), Ctrl-C only sets a flag and
    check() raises KeyboardInterrupt at the next step boundary, so a
    checkpoint written then holds a whole step (no half-applied update)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.requested = False
        self._previous = None

    def __enter__(self) -> "_StepBoundaryInterrupt":
        if self.enabled:
            self._previous = signal.signal(signal.SIGINT, self._request)
        return self

    def _request(self, signum, frame) -> None:
        self.requested = True

    def check(self) -> None:
        if self.requested:
            raise KeyboardInterrupt

    def __exit__(self, *exc) -> None:
        if self.enabled:
            signal.signal(signal.SIGINT, self._previous)


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


def save_checkpoint(path: str | os.PathLike, cfg, params: Mapping[str, np.ndarray],
                    extra: Mapping[str, np.ndarray] | None = None) -> None:
    """Write a float64 checkpoint: one npz entry per tensor plus the config as
    JSON (and ``extra`` entries: a training checkpoint's state)."""
    arrays = {name: np.asarray(value, np.float64) for name, value in params.items()}
    arrays[_CONFIG_KEY] = np.array(json.dumps(cfg.to_dict()))
    arrays.update(extra or {})
    with atomic.atomic_path(path) as tmp, open(tmp, "wb") as f:  # a failed save loses nothing
        np.savez(f, **arrays)


def save_training_state(path: str | os.PathLike, model, config: TrainConfig, state: TrainState) -> None:
    """A checkpoint that ``load_training_state`` resumes bit-exactly: weights,
    model config, TrainConfig, steps done, the sampling RNG and the optimizer."""
    meta = {"train_config": asdict(config), "step": state.step, "rng": state.rng.bit_generator.state}
    extra = {_TRAIN_KEY: np.array(json.dumps(meta))}
    extra.update({_OPT_PREFIX + key: np.asarray(value) for key, value in state.optimizer.state_dict().items()})
    save_checkpoint(path, model.config, model.weights(), extra)


def load_training_state(path: str | os.PathLike, dtype: str = "f32"):
    """``(model, TrainConfig, TrainState)`` from a ``save_training_state`` file;
    ValueError when it is not one."""
    cfg, params = load_checkpoint(path)
    with _open_checkpoint(path) as npz:
        if _TRAIN_KEY not in npz.files:
            raise ValueError(f"{path}: a weights-only checkpoint, not a training state (no {_TRAIN_KEY})")
        meta = json.loads(str(npz[_TRAIN_KEY]))
        opt_state = {key[len(_OPT_PREFIX):]: npz[key] for key in npz.files if key.startswith(_OPT_PREFIX)}
    from hecate_edge import runtime

    model = runtime.Model(model_bytes(cfg, params, dtype), precision=dtype)
    config = TrainConfig(**meta["train_config"])
    rng = np.random.default_rng()
    rng.bit_generator.state = meta["rng"]
    optimizer = make_optimizer(model, config)
    optimizer.load_state_dict(opt_state)
    return model, config, TrainState(int(meta["step"]), rng, optimizer)


def _open_checkpoint(path: str | os.PathLike):
    """``np.load`` of a checkpoint; a file that is not a whole ``.npz`` of
    arrays (cut short, another format, pickled objects) is a ValueError
    naming it. File-system errors pass as they are."""
    import zipfile

    try:
        npz = np.load(path, allow_pickle=False)
    except (ValueError, EOFError, zipfile.BadZipFile) as err:
        why = "it holds pickled objects, which are never loaded" if "pickle" in str(err) else str(err)
        raise ValueError(f"{path}: not a checkpoint written by hecate-edge train (an .npz file): {why}") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: not a checkpoint written by hecate-edge train (a single .npy array)")
    return npz


def load_checkpoint(path: str | os.PathLike):
    """Read a checkpoint written by :func:`save_checkpoint`: ``(cfg, params float64)``."""
    from hecate_edge.config import ModelConfig

    with _open_checkpoint(path) as npz:
        if _CONFIG_KEY not in npz.files:
            raise ValueError(f"{path}: not a hecate_edge checkpoint (no {_CONFIG_KEY} entry)")
        fields = json.loads(str(npz[_CONFIG_KEY]))
        params = {name: np.asarray(npz[name], np.float64) for name in npz.files
                  if name not in (_CONFIG_KEY, _TRAIN_KEY) and not name.startswith(_OPT_PREFIX)}
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


class LossLog:
    """Per-step records to a JSONL file, or CSV with columns ``fields`` when
    the name ends in ``.csv`` (a record without a field leaves it empty)."""

    def __init__(self, path: str | os.PathLike | None, fields: Sequence[str], append: bool = False):
        self.path = None if path is None else Path(path)
        self.fields = list(fields)
        self.append = append
        self._file = None
        self._csv = None

    def __enter__(self) -> "LossLog":
        if self.path is not None:
            self._file = open(self.path, "a" if self.append else "w", newline="")
        return self

    def write(self, record: dict) -> None:
        if self._file is None:
            return
        if self.path.suffix.lower() == ".csv":
            if self._csv is None:
                self._csv = csv.DictWriter(self._file, fieldnames=self.fields)
                if self._file.tell() == 0:  # a resumed run appends below the existing header
                    self._csv.writeheader()
            self._csv.writerow(record)
        else:
            self._file.write(json.dumps(record) + "\n")

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            self._file.close()
