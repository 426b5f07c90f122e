"""HecateLM: the whole model of MATH §1-§5 as a torch.nn.Module, for every rule x
composition x CMS levels x stacked blocks, its parameters named exactly as the
model file's tensors (docs/FORMAT.md "Tensors and their order").

model(tokens (B, T), state=None) -> (logits (B, T, V), state): each batch row
is one stream, as a runtime Session; the returned state continues it.  The
incoming state is a constant (detached, MATH §7).  The torch twin of
hecate_edge/reference/model.py; docs/TORCH.md.
"""
from __future__ import annotations

import os
from types import SimpleNamespace

import numpy as np
import torch
from torch import nn

from hecate_edge.config import ModelConfig, tensor_specs
from hecate_edge.reference.init import init_params
from hecate_edge.reference.rules import rule_by_name
from hecate_edge.torch import rules
from hecate_edge.torch.cms import LevelSpec, LevelState
from hecate_edge.torch.compose import COMPOSITIONS
from hecate_edge.torch.state import State


class _Node(nn.Module):
    """A folder of the parameter tree: "blk0.mem1.wk" is self.blk0.mem1.wk, so named_parameters()
    yields the file's tensor names unchanged."""


class HecateLM(nn.Module):
    """The model of a ModelConfig; parameters from `params` ({file name: array}) or init_params(cfg, seed)."""

    def __init__(self, cfg: ModelConfig, params: dict | None = None, seed: int = 0,
                 dtype: torch.dtype = torch.float32):
        super().__init__()
        self.config = cfg
        params = init_params(cfg, seed) if params is None else params
        for name, shape in tensor_specs(cfg):
            value = np.asarray(params[name], np.float64)
            if value.shape != shape:
                raise ValueError(f"{name}: shape {value.shape}, the config needs {shape}")
            *path, leaf = name.split(".")
            node = self
            for part in path:
                if not hasattr(node, part):
                    node.add_module(part, _Node())
                node = getattr(node, part)
            node.register_parameter(leaf, nn.Parameter(torch.tensor(value, dtype=dtype)))
        ref = rule_by_name(cfg.rule)
        self._init: dict = {}
        self._specs = [LevelSpec(cfg.rule, rules.rule(cfg.rule), ref.GATES, cfg.qk_norm, cfg.bounded_steps,
                                 cfg.periods[level], cfg.gated(level), cfg.memory_hp,
                                 tuple(getattr(ref, "EXTRA_INPUTS", ())))
                       for level in range(cfg.n_levels)]

    @classmethod
    def from_config(cls, cfg: ModelConfig, seed: int = 0, dtype: torch.dtype = torch.float32) -> "HecateLM":
        """A fresh model: MATH §8 init with `seed` (the native trainer's init, bit for bit before the cast)."""
        return cls(cfg, None, seed, dtype)

    @classmethod
    def from_file(cls, path, dtype: torch.dtype = torch.float32) -> "HecateLM":
        """The model of a .hct file (float32, float64 or int8 tensors, dequantized as the runtime does;
        a matrix stored with int16 activations, FORMAT.md dtype 3, multiplies float activations here)."""
        from hecate_edge.format import read_model

        data = path if isinstance(path, (bytes, bytearray, memoryview)) else open(path, "rb").read()
        cfg, tensors, _ = read_model(data)
        return cls(cfg, tensors, dtype=dtype)

    def tensors(self) -> dict[str, np.ndarray]:
        """{file tensor name: float64 numpy copy}, in file order."""
        named = dict(self.named_parameters())
        return {name: named[name].detach().cpu().double().numpy() for name, _ in tensor_specs(self.config)}

    def to_bytes(self, dtype: str = "f32", quantize: str | None = None) -> bytes:
        """The model file (docs/FORMAT.md) of the current weights."""
        from hecate_edge.train import model_bytes

        return model_bytes(self.config, self.tensors(), dtype, quantize=quantize)

    def save(self, path: str | os.PathLike, quantize: str | None = None, dtype: str = "f32") -> None:
        """Write a .hct model file (int8 matrices with quantize="int8"), aside then renamed into place."""
        from hecate_edge import atomic

        atomic.write_bytes(path, self.to_bytes(dtype, quantize))

    def initial_state(self, batch: int, device=None) -> State:
        """MATH §6: position 0, empty windows, every memory at its rule's init state, for `batch` streams."""
        cfg = self.config
        p = self.emb
        device = p.device if device is None else device
        d = cfg.d_model
        key = (p.dtype, str(device))
        if key not in self._init:  # the rule's init state, copied to the device once
            self._init[key] = torch.as_tensor(rule_by_name(cfg.rule).init_state(d, cfg.rule_hp), dtype=p.dtype,
                                              device=device)
        init = self._init[key]
        memory = init.expand((batch,) + init.shape).clone()
        conv = (torch.zeros(batch, 3, cfg.conv_kernel - 1, d, dtype=p.dtype, device=device)
                if cfg.conv_kernel else None)
        empty = torch.zeros(batch, 0, d, dtype=p.dtype, device=device)
        levels = [[LevelState(memory, memory, torch.zeros(batch, d, dtype=p.dtype, device=device), conv)
                   for _ in range(cfg.n_levels)] for _ in range(cfg.n_layers)]
        return State(0, [(empty, empty) for _ in range(cfg.n_layers)], levels)

    def forward(self, tokens: torch.Tensor, state: State | None = None, freeze_memory: bool = False,
                fixed_schedule: bool = False, fast: bool = True):
        """(logits (B, T, V), state after): MATH §1-§4 for every stream of tokens (B, T) from `state`
        (None: initial_state).  freeze_memory reads memory without writing it (MATH §3.2 ablation);
        fixed_schedule opens every frequency gate (MATH §6.2); fast=False keeps the memory recurrence
        in torch ops even where a runtime op could run it (hecate_edge.torch.fast)."""
        cfg = self.config
        if tokens.dim() != 2:
            raise ValueError(f"tokens must be (B, T), got shape {tuple(tokens.shape)}")
        state = self.initial_state(tokens.shape[0], tokens.device) if state is None else state.detach()
        if state.batch != tokens.shape[0]:
            raise ValueError(f"the state holds {state.batch} streams, tokens {tokens.shape[0]}")
        ctx = SimpleNamespace(specs=self._specs, window=cfg.window, n_heads=cfg.n_heads, rope=cfg.rope,
                              freeze=freeze_memory, fixed=fixed_schedule, fast=fast)
        compose = COMPOSITIONS[cfg.composition]
        h = nn.functional.embedding(tokens, self.emb)                    # MATH §1
        caches, levels = [], []
        for layer in range(cfg.n_layers):                                # MATH §4.3
            p, cache, lv = compose(ctx, getattr(self, f"blk{layer}"), h, state.caches[layer],
                                   state.levels[layer], state.position)
            caches.append(cache)
            levels.append(lv)
            h = h + p
        logits = p @ self.head                                           # the last block's p (MATH §4)
        return logits, State(state.position + tokens.shape[1], caches, levels)

