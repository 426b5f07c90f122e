"""Training a HecateLM with torch autograd (``hecate-edge train --engine torch``):
the native trainer's data, schedule and CMS level holds (MATH §6.1, A7) with
any torch optimizer, on CPU or CUDA, data-parallel under torchrun
(hecate_edge.torch.distributed), checkpoints that resume exactly.
Implements MATH §5, §7 through autograd; docs/TORCH.md."""
from __future__ import annotations

import io
import math
import time
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from hecate_edge import atomic
from hecate_edge.config import ModelConfig
from hecate_edge.nonfinite import NonFiniteTraining
from hecate_edge.progress import Progress
from hecate_edge.torch import graphed as graphs
from hecate_edge.torch.distributed import World
from hecate_edge.torch.model import HecateLM
from hecate_edge.train import (EVAL_TOKENS, MAX_SKIPPED, NONFINITE_POLICIES, TrainConfig, draw_job, LossLog,
                               evaluate_corpora, held_params, lr_at, undecayed)

NATIVE_NAMES = {"adamw": "AdamW", "sgd": "SGD"}  # the native optimizers' names, as torch.optim classes


@dataclass
class TorchRun:
    """Where a run stands: steps done, the sampling RNG, the optimizer (its torch.optim class name)
    and the gradients held for CMS levels that have not stepped yet (MATH §6.1, A7)."""
    step: int
    rng: np.random.Generator
    optimizer: torch.optim.Optimizer
    held: dict


def make_optimizer(lm: HecateLM, config: TrainConfig) -> torch.optim.Optimizer:
    """config.optimizer (adamw, sgd, or any torch.optim class name) over the model's parameters,
    decoupled weight decay on the weight matrices only: not vectors, not a rule's own tensors,
    not the convolution taps (MATH §10, D24)."""
    name = NATIVE_NAMES.get(config.optimizer, config.optimizer)
    cls = getattr(torch.optim, name, None)
    if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)):
        raise ValueError(f"unknown optimizer {config.optimizer!r}: give adamw, sgd or a torch.optim class name")
    named = dict(lm.named_parameters())
    kept = undecayed(lm.config, named)
    decay, plain = [], []
    for pname, param in named.items():
        (decay if param.dim() >= 2 and pname not in kept else plain).append(param)
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": plain, "weight_decay": 0.0}]
    extra = {"betas": (0.9, 0.999), "eps": 1e-8} if name == "AdamW" else {}
    if name in ("AdamW", "Adam") and all(p.is_cuda for p in lm.parameters()):
        extra["fused"] = True  # one kernel per step on the GPU instead of one per tensor group
    return cls(groups, lr=config.lr, **extra)


def chunk_mean_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """MATH §5 per chunk (row), then the mean over the batch's chunks, as the native trainer
    averages train_chunk's losses; a chunk without a scored target counts 0."""
    vocab = logits.shape[-1]
    valid = (targets >= 0) & (targets < vocab)
    nll = torch.nn.functional.cross_entropy(logits.reshape(-1, vocab), torch.where(valid, targets, 0).reshape(-1),
                                            reduction="none").reshape(targets.shape)
    per_chunk = torch.sum(nll * valid, 1) / torch.clamp_min(torch.sum(valid, 1), 1)
    return per_chunk.mean()


def _hold(lm: HecateLM, run: TorchRun, step: int, chunk: int) -> None:
    """MATH §6.1 (A7): a level that does not cross its period this step keeps its gradient
    for later (its parameters get no update, no decay); one that does applies held + new."""
    names = dict(lm.named_parameters())
    held = held_params(names, lm.config.periods, step * chunk, chunk)
    for name, param in names.items():
        if param.grad is None:
            continue
        if name in held:
            run.held[name] = run.held.get(name, 0) + param.grad
            param.grad = None
        elif name in run.held:
            param.grad = param.grad + run.held.pop(name)


def train(lm: HecateLM, corpora, config: TrainConfig, world: World, mix: Sequence[float] | None = None,
          log_path=None, show_progress: bool = True, run: TorchRun | None = None, until: int | None = None,
          checkpoint=None,
          checkpoint_every: int = 0, val=(), eval_every: int = 0, eval_tokens: int = EVAL_TOKENS,
          on_nonfinite: str = "stop", cuda_graph: bool = True) -> list[dict]:
    """Train `lm` (on world.device) in place; one record per step, as hecate_edge.train.train.

    Each step draws config.batch chunks exactly as the native trainer does (same RNG, same
    starts, reset state per chunk plus burn_in), runs this rank's share as one (B, T) batch,
    and follows the mean of the chunks' losses (all ranks: DDP averages the gradients).  A
    step whose gradient norm is not finite applies nothing: on_nonfinite "stop" raises
    NonFiniteTraining after the checkpoint, "skip" goes on (at most MAX_SKIPPED in a row).
    `until` stops after that many steps of config.steps (the schedule spans all of them).
    cuda_graph: replay each step's forward and backward from a CUDA graph where
    hecate_edge.torch.graphed applies (same gradients; False runs every step eagerly)."""
    if on_nonfinite not in NONFINITE_POLICIES:
        raise ValueError(f"on_nonfinite must be one of {NONFINITE_POLICIES}, got {on_nonfinite!r}")
    corpora = list(corpora)
    probs = None if mix is None else np.asarray(mix, np.float64) / np.sum(mix)
    share = world.share(config.batch)
    # parameters without a gradient in a step: a frozen memory's, and with CMS levels those of a level
    # that does not fire in the chunk (or a frequency gate on the fixed schedule)
    unused = config.freeze_memory or lm.config.n_levels > 1
    net = lm if not torch.distributed.is_initialized() else DistributedDataParallel(
        lm, device_ids=[world.device.index] if world.device.type == "cuda" else None, find_unused_parameters=unused)
    run = run or TorchRun(0, np.random.default_rng(config.seed), make_optimizer(lm, config), {})
    until = config.steps if until is None else min(until, config.steps)
    warmup = config.warmup_steps
    records, skipped, start = [], 0, time.perf_counter()
    step_tokens = config.chunk * config.batch
    quiet = not (show_progress and world.leader)

    def loss_of(rows: torch.Tensor, fixed: bool) -> torch.Tensor:
        """The batch's loss: burn-in (no gradient) from a fresh state, then the chunk."""
        burn_in, inputs, targets = rows.split([config.burn_in, config.chunk, config.chunk], 1)
        state = None
        if config.burn_in:
            with torch.no_grad():
                _, state = lm(burn_in, freeze_memory=config.freeze_memory, fixed_schedule=fixed)
        logits, _ = net(inputs, state, freeze_memory=config.freeze_memory, fixed_schedule=fixed)
        return chunk_mean_loss(logits, targets)
    # every period 1: no frequency gate, so the schedule's `fixed` changes nothing the graph holds
    graphed = (graphs.GraphedStep(lambda rows: loss_of(rows, False), lm.parameters())
               if cuda_graph and graphs.applies(lm, world.device) else None)
    with LossLog(log_path if world.leader else None, ("step", "loss", "bpb", "lr", "grad_norm", "tokens", "seconds")
                  + (("val_bpb",) if val else ()), append=run.step > 0) as log, \
            Progress(until - run.step, "train", quiet=quiet) as bar:
        while run.step < until:
            step = run.step
            fixed = step < config.freq_anneal  # MATH §6.2 annealing
            jobs = [draw_job(run.rng, corpora, probs, config) for _ in range(config.batch)][share]
            rows = np.concatenate([np.stack([getattr(j, key) for j in jobs]).astype(np.int64)
                                   for key in ("burn_in", "inputs", "targets")], 1)
            rows = torch.as_tensor(rows, device=world.device)  # one copy to the device per step
            run.optimizer.zero_grad(set_to_none=True)
            if graphed is not None:
                loss = graphed(rows)
            else:
                loss = loss_of(rows, fixed)
                loss.backward()
            _hold(lm, run, step, config.chunk)
            params = [p for p in lm.parameters() if p.grad is not None]
            norm = float(torch.nn.utils.clip_grad_norm_(params, config.clip_norm or math.inf)) if params else 0.0
            mean_loss = world.mean(loss.item())  # every rank decides on the same numbers
            if not (math.isfinite(norm) and math.isfinite(mean_loss)):
                skipped += 1
                why = f"non-finite {'loss' if not math.isfinite(mean_loss) else 'gradient norm'}; no update applied"
                if on_nonfinite == "skip" and skipped < MAX_SKIPPED:
                    run.step += 1
                    continue
                if checkpoint is not None and world.leader:
                    save_checkpoint(checkpoint, lm, config, run)
                raise NonFiniteTraining(step + 1, why)
            skipped = 0
            lr = lr_at(step, config.steps, config.lr, warmup)
            for group in run.optimizer.param_groups:
                group["lr"] = lr
            run.optimizer.step()
            run.step += 1
            record = {"step": step + 1, "loss": mean_loss, "bpb": mean_loss / math.log(2), "lr": lr,
                      "grad_norm": norm, "tokens": (step + 1) * step_tokens, "seconds": time.perf_counter() - start}
            if val and world.leader and ((eval_every and run.step % eval_every == 0) or run.step == until):
                record["val_bpb"] = evaluate_corpora(runtime_model(lm), val, eval_tokens).bits_per_byte
            records.append(record)
            log.write(record)
            rate = len(records) * step_tokens / record["seconds"]
            bar.update(bpb=round(record["bpb"], 4), **{"tok/s": f"{rate:,.0f}"})
            if checkpoint is not None and world.leader and checkpoint_every and run.step % checkpoint_every == 0:
                save_checkpoint(checkpoint, lm, config, run)
    if checkpoint is not None and world.leader:
        save_checkpoint(checkpoint, lm, config, run)
    return records


def runtime_model(lm: HecateLM):
    """The C runtime's Model of the current weights (float32 file), for held-out evaluation."""
    from hecate_edge.runtime import Model

    return Model(lm.to_bytes())


def save_checkpoint(path, lm: HecateLM, config: TrainConfig, run: TorchRun) -> None:
    """A torch training checkpoint: weights, model and train configs, step, RNG, optimizer, held gradients."""
    buf = io.BytesIO()
    torch.save({"config": lm.config.to_dict(), "train": asdict(config), "step": run.step,
                "rng": run.rng.bit_generator.state, "weights": lm.state_dict(),
                "optimizer": run.optimizer.state_dict(), "held": run.held}, buf)
    atomic.write_bytes(path, buf.getvalue())


def load_checkpoint(path, device: torch.device) -> tuple[HecateLM, TrainConfig, TorchRun]:
    """(model on `device`, its TrainConfig, the run) of a checkpoint save_checkpoint wrote."""
    try:
        saved = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # torch raises several types for a file that is not its own
        raise ValueError(f"{path}: not a torch training checkpoint ({type(exc).__name__})") from None
    config = TrainConfig(**saved["train"])
    lm = HecateLM(ModelConfig.from_dict(saved["config"]), {k: v.double().cpu().numpy()
                                                             for k, v in saved["weights"].items()}).to(device)
    lm.load_state_dict(saved["weights"])
    rng = np.random.default_rng()
    rng.bit_generator.state = saved["rng"]
    optimizer = make_optimizer(lm, config)
    optimizer.load_state_dict(saved["optimizer"])
    return lm, config, TorchRun(int(saved["step"]), rng, optimizer, dict(saved["held"]))
