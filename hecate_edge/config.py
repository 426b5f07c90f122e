"""Model configuration: the ModelConfig dataclass, its ranges, and the tensor list it implies.

Ranges and ids follow the model file header of docs/FORMAT.md; the tensor
names and shapes follow its "Tensors and their order" table (MATH §1-§4).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import numpy as np

from hecate_edge.reference.compositions import COMPOSITIONS as COMPOSITION_MODULES
from hecate_edge.reference.retention import RETENTION_IDS
from hecate_edge.reference.retention import resolve as resolve_retention
from hecate_edge.reference.rules import RULES, rule_by_name, rule_tensor_specs

# name -> file id of every composition of the registry (reference/compositions.py)
COMPOSITIONS: dict[str, int] = {name: c.COMPOSITION_ID for name, c in COMPOSITION_MODULES.items()}

# Features whose default changed to on (D37): what a config dict written before them meant
LEGACY_OFF = {"composition": "mag", "conv_kernel": 0, "rope": False, "bounded_steps": False}

VOCAB_RANGE = (2, 65536)
D_MODEL_RANGE = (1, 4096)
WINDOW_RANGE = (1, 4096)
MAX_LEVELS = 8          # slots for level periods in the file header
MAX_RULE_PARAMS = 8     # slots for rule hyper-parameters in the file header
SUPPORTED_LEVELS = 4    # CMS levels per block (MATH §6.1); the C runtime's HCT_MAX_LEVELS
DEFAULT_PERIODS = (1, 8, 64, 512)  # MATH §6.1: level l's period when none are given
MAX_PERIOD = 65536      # the C runtime's HCT_MAX_PERIOD
MAX_LAYERS = 4          # stacked blocks (MATH §4.3); the C runtime's HCT_MAX_LAYERS
CONV_KERNEL_RANGE = (2, 8)  # taps of the front end's short convolution when on (MATH §3.1)
CONV_STREAMS = ("k", "v", "q")  # the projections it runs over, in tensor and state order


@dataclass(frozen=True)
class ModelConfig:
    """Everything the model file header records (docs/FORMAT.md); validated on creation."""

    vocab: int = 256
    d_model: int = 64
    n_heads: int = 4
    window: int = 16
    composition: str = "mal"   # D37: the composition whose memory recalls (MAG's gate does not)
    rule: str = "delta"
    n_levels: int = 1
    qk_norm: bool | None = None   # None: the rule's default (MATH §3.1)
    n_layers: int = 1
    retention: str | None = None      # None: the rule's default (MATH §3.8)
    retention_param: float | None = None  # elastic net lambda_1 (None: its default); else 0
    periods: tuple[int, ...] | None = None  # None: DEFAULT_PERIODS[:n_levels]
    rule_params: tuple[float, ...] = ()
    freq_gates: bool = False  # learned frequency gates on levels >= 1 (MATH §6.2; needs n_levels >= 2)
    bounded_steps: bool | None = None  # softplus step gates become THETA_MAX * sigmoid (MATH §3.1);
                                       # None: the rule's default (on where it bounds the write: delta)
    conv_kernel: int = 4  # taps K of the short causal convolution over memory k, v, q (MATH §3.1); 0 = off
    rope: bool | None = None  # rotary positions in window attention (MATH §2); None: on for an even head_dim

    def __post_init__(self):
        periods = DEFAULT_PERIODS[:self.n_levels] if self.periods is None else self.periods
        object.__setattr__(self, "periods", tuple(int(p) for p in periods))
        object.__setattr__(self, "rule_params", tuple(float(p) for p in self.rule_params))
        if self.rope is None and isinstance(self.d_model, int) and isinstance(self.n_heads, int) and self.n_heads:
            object.__setattr__(self, "rope", (self.d_model // self.n_heads) % 2 == 0)
        if self.rule in RULES:
            rule = RULES[self.rule]
            if self.qk_norm is None:
                object.__setattr__(self, "qk_norm", rule.QK_NORM)
            if self.bounded_steps is None:
                object.__setattr__(self, "bounded_steps", getattr(rule, "BOUNDED_STEP", False))
            name, param = resolve_retention(rule, self.retention, self.retention_param)
            object.__setattr__(self, "retention", name)
            object.__setattr__(self, "retention_param", param)
        self.validate()
        # hyper-parameters not given take the rule's defaults for this width
        # (stored as float32 in the file header, so rounded to float32 here: the
        # reference then computes with exactly the values the runtime reads)
        defaults = rule_by_name(self.rule).default_params(self.d_model)
        params = self.rule_params + tuple(defaults[len(self.rule_params):])
        params = tuple(float(np.float32(p)) for p in params)
        if not all(math.isfinite(p) for p in params):
            raise ValueError(f"rule_params {params} do not fit float32")
        object.__setattr__(self, "rule_params", params)
        rule_by_name(self.rule).check_params(self.d_model, self.rule_params)

    def validate(self) -> None:
        """Raise ValueError naming the first field outside its FORMAT.md range."""
        _check_int_range("vocab", self.vocab, VOCAB_RANGE)
        _check_int_range("d_model", self.d_model, D_MODEL_RANGE)
        _check_int_range("n_heads", self.n_heads, (1, self.d_model))
        if self.d_model % self.n_heads:
            raise ValueError(f"n_heads={self.n_heads} does not divide d_model={self.d_model}")
        _check_int_range("window", self.window, WINDOW_RANGE)
        if self.composition not in COMPOSITIONS:
            raise ValueError(f"unknown composition {self.composition!r} "
                             f"(known: {sorted(COMPOSITIONS)})")
        rule = rule_by_name(self.rule)
        _check_int_range("n_levels", self.n_levels, (1, SUPPORTED_LEVELS))
        if not isinstance(self.qk_norm, bool):
            raise ValueError(f"qk_norm must be a bool, got {self.qk_norm!r}")
        _check_int_range("n_layers", self.n_layers, (1, MAX_LAYERS))
        if len(self.periods) != self.n_levels:
            raise ValueError(f"periods has {len(self.periods)} entries, n_levels={self.n_levels}")
        if self.periods[0] != 1:
            raise ValueError(f"periods[0] must be 1, got {self.periods[0]}")
        if any(not 1 <= p <= MAX_PERIOD for p in self.periods):
            raise ValueError(f"periods must be in 1..{MAX_PERIOD}, got {self.periods}")
        if len(self.rule_params) > len(rule.PARAM_NAMES):
            raise ValueError(f"rule {self.rule!r} takes {len(rule.PARAM_NAMES)} hyper-parameters "
                             f"{rule.PARAM_NAMES}, got {len(self.rule_params)}")
        if not all(math.isfinite(p) for p in self.rule_params):
            raise ValueError(f"rule_params must be finite, got {self.rule_params}")
        if not isinstance(self.freq_gates, bool):
            raise ValueError(f"freq_gates must be a bool, got {self.freq_gates!r}")
        if not isinstance(self.bounded_steps, bool):
            raise ValueError(f"bounded_steps must be a bool, got {self.bounded_steps!r}")
        if self.freq_gates and self.n_levels < 2:
            raise ValueError("freq_gates needs n_levels >= 2 (level 0 always fires, MATH §6.2)")
        if type(self.conv_kernel) is not int or self.conv_kernel != 0:  # 0 (off) or K taps
            _check_int_range("conv_kernel", self.conv_kernel, CONV_KERNEL_RANGE)
        if not isinstance(self.rope, bool):
            raise ValueError(f"rope must be a bool, got {self.rope!r}")
        if self.rope and self.head_dim % 2:
            raise ValueError(f"rope needs an even head_dim (pairs of entries, MATH §2), got {self.head_dim}")

    @property
    def rule_hp(self) -> dict[str, float]:
        """{name: value} of the rule's hyper-parameters (FORMAT.md header rule_params)."""
        return dict(zip(RULES[self.rule].PARAM_NAMES, self.rule_params))

    @property
    def memory_hp(self) -> dict:
        """rule_hp plus the retention: what a rule's write_read takes as hp."""
        return {**self.rule_hp, "retention": self.retention, "lambda_1": self.retention_param}

    @property
    def retention_id(self) -> int:
        """File id of the retention (docs/FORMAT.md)."""
        return RETENTION_IDS[self.retention]

    @property
    def head_dim(self) -> int:
        """h = d / H (MATH notation)."""
        return self.d_model // self.n_heads

    @property
    def rule_id(self) -> int:
        """File id of the memory rule."""
        return RULES[self.rule].RULE_ID

    @property
    def composition_id(self) -> int:
        """File id of the composition."""
        return COMPOSITIONS[self.composition]

    @property
    def n_gates(self) -> int:
        """G: number of scalar gates per token and level of the rule (MATH §3.1)."""
        return len(RULES[self.rule].GATES)

    @property
    def flags(self) -> int:
        """Header flags word: bit 0 = L2-normalize memory q, k; bit 1 = frequency gates (MATH §6.2);
        bit 2 = short convolution in the memory front end; bit 3 = rotary positions in window attention
        (MATH §2); bit 4 = bounded inner steps (MATH §3.1)."""
        return ((1 if self.qk_norm else 0) | (2 if self.freq_gates else 0) | (4 if self.conv_kernel else 0)
                | (8 if self.rope else 0) | (16 if self.bounded_steps else 0))

    def gated(self, level: int) -> bool:
        """Memory level `level` has a learned frequency gate (MATH §6.2)."""
        return self.freq_gates and level > 0

    def to_dict(self) -> dict:
        """Plain JSON-friendly dict (tuples become lists)."""
        out = asdict(self)
        out["periods"] = list(self.periods)
        out["rule_params"] = list(self.rule_params)
        return out

    @classmethod
    def from_dict(cls, values: dict) -> "ModelConfig":
        """Inverse of to_dict; missing keys take defaults, unknown keys are a
        ValueError. A feature added after a dict was written (LEGACY_OFF) is off
        when missing, so an older checkpoint keeps describing its own model;
        likewise a rule hyper-parameter added later (the rule's LEGACY_PARAMS)
        takes its legacy value when a written rule_params list stops short of it."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown ModelConfig keys: {unknown}")
        values = {**LEGACY_OFF, **values}
        if values.get("rule_params"):
            values["rule_params"] = _with_legacy_params(values.get("rule", cls.rule), values["rule_params"])
        return cls(**values)


def _with_legacy_params(rule_name: str, params) -> tuple[float, ...]:
    """`params` extended by the legacy values of the rule's later parameters it lacks."""
    params = tuple(params)
    rule = RULES.get(rule_name)
    legacy = getattr(rule, "LEGACY_PARAMS", {})
    missing = rule.PARAM_NAMES[len(params):] if rule else ()
    return params + tuple(legacy[name] for name in missing if name in legacy)


def _check_int_range(name: str, value, bounds: tuple[int, int]) -> None:
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an int, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name}={value} outside {low}..{high}")


def tensor_specs(cfg: ModelConfig) -> list[tuple[str, tuple[int, ...]]]:
    """(name, shape) of every parameter tensor, in file and gradient-buffer order."""
    v, d, g = cfg.vocab, cfg.d_model, cfg.n_gates
    rule = RULES[cfg.rule]
    specs = [("emb", (v, d))]
    for layer in range(cfg.n_layers):
        specs += [(f"blk{layer}.attn.{w}", (d, d)) for w in ("wq", "wk", "wv", "wo")]
        if cfg.n_levels > 1:
            specs += [(f"blk{layer}.{name}", (cfg.n_levels,)) for name in COMPOSITION_MODULES[cfg.composition].TENSORS]
        for level in range(cfg.n_levels):
            prefix = f"blk{layer}.mem{level}"
            specs += [(f"{prefix}.{w}", (d, d)) for w in ("wk", "wv", "wq")]
            if cfg.conv_kernel:
                specs += [(f"{prefix}.conv_{s}", (cfg.conv_kernel, d)) for s in CONV_STREAMS]
            specs += [(f"{prefix}.gate_w", (g, 2 * d)), (f"{prefix}.gate_b", (g,))]
            specs += [(f"{prefix}.{name}", shape) for name, shape in rule_tensor_specs(rule, d, cfg.rule_hp)]
            if cfg.gated(level):
                specs += [(f"{prefix}.freq_w", (d,)), (f"{prefix}.freq_b", (1,))]
    specs.append(("head", (d, v)))
    return specs


def param_count(cfg: ModelConfig) -> int:
    """Scalar parameter count: the length of a gradient buffer."""
    return sum(math.prod(shape) for _, shape in tensor_specs(cfg))
