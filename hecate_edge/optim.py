"""Outer-loop optimizers (docs/MATH.md §10): SGD, AdamW and M3 (multi-scale
momentum), updating numpy arrays in place.

Parameters keep their own dtype (float32 views into the C model buffer, so the
runtime sees each update at once); every buffer is float64. Each optimizer
clips by the global gradient norm first (optional) and returns that norm from
``step``. ``state_dict()`` / ``load_state_dict()`` hold everything a training
checkpoint needs to continue bit-exactly.
"""
from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence

import numpy as np

from hecate_edge.reference.mathfn import ns_iterate
from hecate_edge.runtime import AdamWTensors

NS_EPS = 1e-7


def newton_schulz(m: np.ndarray, steps: int) -> np.ndarray:
    """||M||_F times the quintic Newton-Schulz orthogonalization of M / ||M||_F
    (a matrix; the wide orientation is iterated, so A = X X^T is the small Gram)."""
    norm = float(np.linalg.norm(m))
    if norm < NS_EPS:
        return m.copy()
    tall = m.shape[0] > m.shape[1]
    x = ns_iterate((m.T if tall else m) / norm, steps)
    return norm * (x.T if tall else x)


class Optimizer:
    """What SGD, AdamW and M3 share: the parameters, global-norm clipping, the
    step counter, and decoupled weight decay on matrices (``ndim >= 2``) not
    named in ``no_decay``."""

    buffers: tuple[str, ...] = ()  # per-parameter float64 state kept in state_dict
    # threads.Workers an optimizer may run its updates on (AdamW's native form); the trainer
    # sets it while its worker pool lives (train.train)
    workers = None

    def __init__(self, params: Mapping[str, np.ndarray], lr: float, weight_decay: float = 0.0,
                 clip_norm: float | None = None, no_decay: Collection[str] = ()):
        self.params = dict(params)
        self.lr = lr
        self.weight_decay = weight_decay
        self.clip_norm = clip_norm
        self.no_decay = frozenset(no_decay)
        self.t = 0
        self.state = {buf: {name: np.zeros(p.shape, np.float64) for name, p in self.params.items()}
                      for buf in self.buffers}
        self.error: dict[str, np.ndarray] = {}  # held gradients (MATH §6.1 error buffers)

    def step(self, grads: Mapping[str, np.ndarray], lr: float | None = None,
             hold: Collection[str] = ()) -> float:
        """Apply one update from ``grads`` (same names and shapes as the
        parameters); ``lr`` overrides the base rate for this step (schedules).
        ``hold``: parameters whose gradient is only added to their error
        buffer (a CMS level that does not fire this step, MATH §6.1): they,
        their buffers and the clipping norm are left alone; the next step
        that does not hold one applies its buffer plus its gradient.
        Returns the global gradient L2 norm (of the applied gradients) before clipping."""
        lr = self.lr if lr is None else lr
        g64 = {}
        for name in self.params:
            g = np.asarray(grads[name], np.float64)
            if name in hold:
                self.error[name] = self.error[name] + g if name in self.error else g.copy()
                continue
            g64[name] = g + self.error.pop(name) if name in self.error else g
        norm = math.sqrt(sum(float(np.square(g).sum()) for g in g64.values()))
        scale = self.clip_norm / norm if self.clip_norm is not None and norm > self.clip_norm else 1.0
        self.t += 1
        decays = {name: lr * self.weight_decay if p.ndim >= 2 and self.weight_decay and name not in self.no_decay
                  else 0.0 for name, p in self.params.items() if name in g64}
        self.apply(g64, decays, scale, lr)
        return norm

    def apply(self, grads: Mapping[str, np.ndarray], decays: Mapping[str, float], scale: float, lr: float) -> None:
        """The step's updates of the tensors in ``grads``, in parameter order."""
        for name, p in self.params.items():
            if name in grads:
                self.update(name, p, grads[name], scale, lr, decays[name])

    def update(self, name: str, p: np.ndarray, g: np.ndarray, scale: float, lr: float, decay: float) -> None:
        """p <- p - decay p - lr direction(scale g), in float64, rounded once to p's dtype."""
        g = g * scale if scale != 1.0 else g
        value = p.astype(np.float64)
        if decay:
            value -= decay * value
        value -= lr * self.direction(name, g)
        p[...] = value

    def direction(self, name: str, g: np.ndarray) -> np.ndarray:
        """The update direction of parameter ``name`` (the step is ``-lr`` times it)."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, np.ndarray]:
        """Step counter and every buffer, as flat {key: array}."""
        out = {"t": np.array(self.t)}
        for buf, arrays in self.state.items():
            out.update({f"{buf}/{name}": a for name, a in arrays.items()})
        out.update({f"error/{name}": a for name, a in self.error.items()})
        return out

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        """Inverse of state_dict; ValueError when a buffer is missing or misshapen."""
        self.t = int(state["t"])
        for buf, arrays in self.state.items():
            for name, a in arrays.items():
                key = f"{buf}/{name}"
                if key not in state or np.shape(state[key]) != a.shape:
                    raise ValueError(f"optimizer state has no {key} of shape {a.shape}")
                a[...] = state[key]
        self.error = {key[len("error/"):]: np.array(value, np.float64) for key, value in state.items()
                      if key.startswith("error/") and key[len("error/"):] in self.params}


class SGD(Optimizer):
    """MATH §10: p <- p - lr g (plus the shared decay and clipping)."""

    def direction(self, name, g):
        return g


class AdamW(Optimizer):
    """MATH §10 AdamW (decoupled weight decay, matrices only, D13)::

        m <- b1 m + (1 - b1) g ;  v <- b2 v + (1 - b2) g^2
        p <- p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)

    with the bias corrections applied as multiplications by 1 / (1 - b^t) (D78).
    """

    buffers = ("m", "v")

    def __init__(self, params, lr: float = 3e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, clip_norm: float | None = None, no_decay: Collection[str] = (),
                 native: bool = False):
        """native: update each tensor with the C runtime's hecate_adamw_update (one pass over
        the tensor instead of a dozen numpy passes; the same float64 operations, the same bits)."""
        super().__init__(params, lr, weight_decay, clip_norm, no_decay)
        self.beta1, self.beta2 = betas
        self.eps = eps
        self.native = native
        self._native: AdamWTensors | None = None  # built at the first native step

    def _tensors(self) -> AdamWTensors:
        if self._native is None:  # the parameters and moments never move: their pointers are kept
            self._native = AdamWTensors({n: (q, self.state["m"][n], self.state["v"][n]) for n, q in self.params.items()})
        return self._native

    def _step_fields(self, lr: float, scale: float) -> dict[str, float]:
        return dict(lr=lr, beta1=self.beta1, beta2=self.beta2, eps=self.eps, bias1=1.0 - self.beta1**self.t,
                    bias2=1.0 - self.beta2**self.t, grad_scale=scale)

    def apply(self, grads, decays, scale, lr):
        if not (self.native and self.workers is not None):
            return super().apply(grads, decays, scale, lr)
        # every tensor's C update as one task on the workers (D81): the same calls, the same bits
        self._tensors().update_all({name: (g, decays[name]) for name, g in grads.items()}, self.workers,
                                   **self._step_fields(lr, scale))

    def update(self, name, p, g, scale, lr, decay):
        if not self.native:
            return super().update(name, p, g, scale, lr, decay)
        self._tensors().update(name, g, decay=decay, **self._step_fields(lr, scale))

    def direction(self, name, g):
        m, v = self.state["m"][name], self.state["v"][name]
        m *= self.beta1
        m += (1.0 - self.beta1) * g
        v *= self.beta2
        v += (1.0 - self.beta2) * g * g
        # bias corrections as multiplications by their reciprocals (D78): one division an element
        return (m * (1.0 / (1.0 - self.beta1**self.t))) / (np.sqrt(v * (1.0 / (1.0 - self.beta2**self.t))) + self.eps)


class M3(Optimizer):
    """MATH §10 M3, multi-scale momentum: k momenta at k frequencies.

    Every step each level i adds g to its accumulator; level i fires when
    t mod period_i == 0, folding the mean of its accumulated gradients into
    m_i <- beta_i m_i + (1 - beta_i) mean (bias-corrected by its fire count).
    The step is the AdamW-normalized sum of the levels' momenta, every one
    of them a descent direction (the slow ones subtract too, as the paper's
    Eq. 75), each optionally orthogonalized by Newton-Schulz for matrices:
    p <- p - lr sum_i w_i ns(m_i_hat / (sqrt(v_hat) + eps)).
    """

    def __init__(self, params, lr: float = 3e-3, periods: Sequence[int] = (1, 8),
                 betas: Sequence[float] = (0.9, 0.99), weights: Sequence[float] = (1.0, 0.5),
                 beta_v: float = 0.999, eps: float = 1e-8, ns_steps: int = 0, weight_decay: float = 0.0,
                 clip_norm: float | None = None, no_decay: Collection[str] = ()):
        if not (len(periods) == len(betas) == len(weights) >= 1) or any(int(p) < 1 for p in periods):
            raise ValueError("M3 needs as many periods (>= 1), betas and weights, at least one level")
        self.periods = tuple(int(p) for p in periods)
        self.betas = tuple(float(b) for b in betas)
        self.weights = tuple(float(w) for w in weights)
        self.buffers = ("v", *(f"m{i}" for i in range(len(periods))), *(f"acc{i}" for i in range(len(periods))))
        super().__init__(params, lr, weight_decay, clip_norm, no_decay)
        self.beta_v, self.eps, self.ns_steps = beta_v, eps, int(ns_steps)

    def direction(self, name, g):
        v = self.state["v"][name]
        v *= self.beta_v
        v += (1.0 - self.beta_v) * g * g
        denom = np.sqrt(v * (1.0 / (1.0 - self.beta_v**self.t))) + self.eps  # AdamW's (D78)
        out = np.zeros_like(g)
        for i, (period, beta, weight) in enumerate(zip(self.periods, self.betas, self.weights)):
            m, acc = self.state[f"m{i}"][name], self.state[f"acc{i}"][name]
            acc += g
            if self.t % period == 0:
                m *= beta
                m += (1.0 - beta) * acc / period
                acc[...] = 0.0
            fires = self.t // period
            if fires == 0:
                continue  # this level has not seen a whole block yet
            u = (m * (1.0 / (1.0 - beta**fires))) / denom
            if self.ns_steps and u.ndim >= 2:
                u = newton_schulz(u.reshape(u.shape[0], -1), self.ns_steps).reshape(u.shape)
            out += weight * u
        return out


OPTIMIZERS = {"sgd": SGD, "adamw": AdamW, "m3": M3}
