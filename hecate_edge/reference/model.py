"""ReferenceSession: the whole per-token model of MATH §1-§4 with its state (§6), and the loss (§5).

process() is literally a loop of step(), so any chunking gives the same logits
and state by construction; the C runtime is held to this session's numbers.
"""
from __future__ import annotations

import numpy as np

from hecate_edge.config import ModelConfig, tensor_specs
from hecate_edge.quantize import W8A16Matrix
from hecate_edge.reference import frontend
from hecate_edge.reference.attention import WindowCache, attend
from hecate_edge.reference.cms import add_block_input, fires, gate_pre, level_token, readable_before_write
from hecate_edge.reference.compose_mag import lm_head
from hecate_edge.reference.compositions import composition_by_name
from hecate_edge.reference.mathfn import log_softmax, sigmoid
from hecate_edge.reference.rules import rule_by_name


def check_params(cfg: ModelConfig, params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """float64 copies of exactly the tensors tensor_specs(cfg) lists; ValueError otherwise."""
    specs = dict(tensor_specs(cfg))
    if set(params) != set(specs):
        raise ValueError(f"parameter names differ from the config's: missing "
                         f"{sorted(set(specs) - set(params))}, extra {sorted(set(params) - set(specs))}")
    out = {}
    for name, shape in specs.items():
        if isinstance(params[name], W8A16Matrix) and params[name].shape == shape:
            out[name] = params[name]  # products through int16 activations (MATH §1.1)
            continue
        array = np.array(params[name], dtype=np.float64)
        if array.shape != shape:
            raise ValueError(f"{name}: shape {array.shape}, config needs {shape}")
        out[name] = array
    return out


class ReferenceSession:
    """One stream of tokens through the reference model (float64).

    freeze_memory (MATH §3.2 ablation) reads memory without writing it; it is a
    plain attribute and may be changed between steps.  fixed_schedule (MATH
    §6.2, annealing) opens every frequency gate, likewise.  gate_log lists
    every gate decision since the reset ({layer, level, position, pre, open,
    mean: the block's mean input}).  ste_anchors maps (layer, level,
    position) of a block end to a constant g0: the multiplier there becomes
    h + sigmoid(pre) - g0, equal to h at g0 = the gate's value, with the
    straight-through gradient as its derivative (tests take it by finite
    differences).
    """

    def __init__(self, cfg: ModelConfig, params: dict[str, np.ndarray], freeze_memory: bool = False,
                 fixed_schedule: bool = False):
        self.cfg = cfg
        self.rule = rule_by_name(cfg.rule)
        self.freeze_memory = freeze_memory
        self.fixed_schedule = fixed_schedule
        self.ste_anchors: dict[tuple[int, int, int], float] = {}
        self.set_params(params)
        entries = composition_by_name(cfg.composition).WINDOW_ENTRIES  # MATH §4.4
        self._caches = [WindowCache(cfg.window * entries) for _ in range(cfg.n_layers)]
        self.reset()

    def set_params(self, params: dict[str, np.ndarray]) -> None:
        """Use these weights from the next token on, the state kept (as the C
        runtime's weights may be rewritten in place between calls)."""
        self.params = check_params(self.cfg, params)
        self._levels = [[self._level_params(layer, level) for level in range(self.cfg.n_levels)]
                        for layer in range(self.cfg.n_layers)]

    def _level_params(self, layer: int, level: int) -> dict[str, np.ndarray]:
        prefix = f"blk{layer}.mem{level}."
        return {name[len(prefix):]: value for name, value in self.params.items()
                if name.startswith(prefix)}

    def reset(self) -> None:
        """MATH §6: position 0, empty attention windows, every memory at its rule's init state."""
        self.position = 0
        for cache in self._caches:
            cache.clear()
        self._memory = [[self.rule.init_state(self.cfg.d_model, self.cfg.rule_hp) for _ in range(self.cfg.n_levels)]
                        for _ in range(self.cfg.n_layers)]
        # MATH §6.1: what each level reads (its block-start state; period 1: the state)
        self._at = [list(levels) for levels in self._memory]
        # MATH §6.2: each gated level's input summed over its current block
        self._sums = [[np.zeros(self.cfg.d_model) for _ in range(self.cfg.n_levels)]
                      for _ in range(self.cfg.n_layers)]
        # MATH §3.1: each level's last K-1 pre-convolution rows of k, v, q (zeros: no earlier tokens)
        conv = (3, max(self.cfg.conv_kernel - 1, 0), self.cfg.d_model)
        self._conv = [[np.zeros(conv) for _ in range(self.cfg.n_levels)] for _ in range(self.cfg.n_layers)]
        self.gate_log: list[dict] = []

    def memory(self, level: int = 0, layer: int = 0) -> np.ndarray:
        """Copy of memory level `level`'s state in block `layer` (delta: S = M^T, d x d; MATH §3.2;
        a CMS level's accumulated state, MATH §6.1)."""
        return self._memory[layer][level].copy()

    def memory_read(self, level: int = 0, layer: int = 0) -> np.ndarray:
        """Copy of the state level `level`'s reads see in block `layer` (MATH §6.1)."""
        return self._at[layer][level].copy()

    def block_sum(self, level: int, layer: int = 0) -> np.ndarray:
        """Copy of gated level `level`'s input sum over its current block (MATH §6.2)."""
        return self._sums[layer][level].copy()

    def conv_state(self, level: int = 0, layer: int = 0) -> np.ndarray:
        """Copy of level `level`'s convolution state in block `layer`: (3, K-1, d),
        the last K-1 pre-convolution rows of k, v, q, oldest first (MATH §3.1)."""
        return self._conv[layer][level].copy()

    def _history(self, layer: int, level: int) -> np.ndarray | None:
        return self._conv[layer][level] if self.cfg.conv_kernel else None

    def attention_cache(self, layer: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Copies of block `layer`'s cached (keys, values), each (m, d) oldest first, m <= window
        (MAC: two entries per token, its x entry then its h entry, m <= 2 window)."""
        return self._caches[layer].keys(), self._caches[layer].values()

    def step(self, token: int) -> np.ndarray:
        """Feed one token (MATH §1-§4); returns its next-token logits (V,)."""
        if not 0 <= int(token) < self.cfg.vocab:
            raise ValueError(f"token {token} outside 0..{self.cfg.vocab - 1}")
        h = self.params["emb"][int(token)]                          # MATH §1
        compose = composition_by_name(self.cfg.composition)  # MATH §4: its block(session, layer, x) -> p
        for layer in range(self.cfg.n_layers):                      # MATH §4.3: stacked blocks
            p = compose.block(self, layer, h)                       # MATH §2-§4
            h = h + p
        logits = lm_head(self.params["head"], p)                    # the last block's p, not h
        self.position += 1
        return logits

    def attend(self, layer: int, inp: np.ndarray, extra: np.ndarray | None = None) -> np.ndarray:
        """MATH §2: push inp's key and value (then extra's: MAC's h, §4.4) into block `layer`'s
        window, attend with inp's query."""
        w = {name: self.params[f"blk{layer}.attn.{name}"] for name in ("wq", "wk", "wv")}
        cache = self._caches[layer]
        entries = (inp,) if extra is None else (inp, extra)
        for entry in entries:                                       # the current token included
            cache.push(entry @ w["wk"], entry @ w["wv"])
        q = inp @ w["wq"]
        keys = cache.keys()
        # rotary positions: a token's entries are (m - 1 - i) // entries tokens back (oldest first)
        offsets = (len(keys) - 1 - np.arange(len(keys))) // len(entries) if self.cfg.rope else None
        return attend(q, keys, cache.values(), self.cfg.n_heads, offsets)

    def output_weights(self, layer: int) -> np.ndarray:
        """Wo of block `layer` (MATH §4)."""
        return self.params[f"blk{layer}.attn.wo"]

    def memory_output(self, layer: int, x: np.ndarray) -> np.ndarray:
        """MATH §6.1: the reads of every level of block `layer` summed (1/sqrt(k) for k > 2)."""
        k = self.cfg.n_levels
        y = sum(self.memory_step(layer, level, x) for level in range(k))
        return y / np.sqrt(k) if k > 2 else y

    def memory_step(self, layer: int, level: int, x: np.ndarray) -> np.ndarray:
        """MATH §3.1 front end then the rule's write-and-read at the level's
        period (MATH §6.1), or a read only when frozen (the convolution state,
        a front-end buffer, advances either way)."""
        params = self._levels[layer][level]
        history = self._history(layer, level)
        km, vm, qm = frontend.project(params, x, self.cfg.qk_norm, history)
        if history is not None:
            self._conv[layer][level] = frontend.shift(history, frontend.projections(params, x))
        if self.freeze_memory:
            return self.rule.read(self._at[layer][level], qm, self.cfg.memory_hp)
        gate_values = frontend.gates(params, km, vm, self.rule.GATES, self.cfg.bounded_steps)
        offered = {"x": x, "tensors": params}  # what a rule may ask for besides k, v, q (EXTRA_INPUTS)
        extra = {name: offered[name] for name in getattr(self.rule, "EXTRA_INPUTS", ())}
        keep = self._frequency_gate(layer, level, x) if self.cfg.gated(level) else 1.0
        self._memory[layer][level], self._at[layer][level], y = level_token(
            self.rule, self._memory[layer][level], self._at[layer][level], self.position,
            self.cfg.periods[level], km, vm, qm, gate_values, self.cfg.memory_hp, keep=keep, **extra)
        return y

    def memory_pre_read(self, layer: int, level: int, x: np.ndarray) -> np.ndarray:
        """MATH §4.4: level `level`'s read before this token's write, with the query of x (§3.1;
        convolved over the level's own q stream, x's row the newest, which leaves the state as it is)."""
        qm = frontend.query(self._levels[layer][level], x, self.cfg.qk_norm, self._history(layer, level))
        state, at = self._memory[layer][level], self._at[layer][level]
        if not self.freeze_memory:
            at = readable_before_write(state, at, self.position, self.cfg.periods[level])
        return self.rule.read(at, qm, self.cfg.memory_hp)

    def _frequency_gate(self, layer: int, level: int, x: np.ndarray) -> float:
        """MATH §6.2: adds x to the level's block input sum; at the block's last
        token the gate on the mean decides h (1: publish the block's update, 0:
        keep the block-start state) and the sum clears.  1 inside a block."""
        period = self.cfg.periods[level]
        total = add_block_input(self._sums[layer][level], x, self.position, period)
        if not fires(self.position, period):
            self._sums[layer][level] = total
            return 1.0
        self._sums[layer][level] = np.zeros_like(total)
        params = self._levels[layer][level]
        pre = gate_pre(params["freq_w"], params["freq_b"], total, period)
        is_open = self.fixed_schedule or pre > 0
        self.gate_log.append({"layer": layer, "level": level, "position": self.position, "pre": pre,
                              "open": is_open, "mean": total / period})
        h = 1.0 if is_open else 0.0
        anchor = self.ste_anchors.get((layer, level, self.position))
        return h if anchor is None else h + float(sigmoid(pre)) - anchor

    def process(self, tokens) -> np.ndarray:
        """Feed many tokens (MATH §6: a loop of step); returns logits (T, V)."""
        rows = [self.step(token) for token in tokens]
        return np.array(rows).reshape(len(rows), self.cfg.vocab)


def cross_entropy(logits: np.ndarray, targets) -> float:
    """MATH §5: mean of -log softmax(logits_n)[target_n] over targets < V (0 if none)."""
    logits = np.asarray(logits, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.int64)
    if targets.shape != logits.shape[:1]:
        raise ValueError(f"targets shape {targets.shape} does not match logits {logits.shape}")
    if np.any(targets < 0):
        raise ValueError("targets must be >= 0")
    valid = targets < logits.shape[1]
    if not np.any(valid):
        return 0.0
    logp = log_softmax(logits[valid])
    return float(-np.mean(logp[np.arange(logp.shape[0]), targets[valid]]))
