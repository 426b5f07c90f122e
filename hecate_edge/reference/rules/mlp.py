"""What the MLP-memory rules share (MATH §3.5): a 2-layer SiLU MLP memory
M(x) = silu(x W1^T) W2 held as the stack (W1, W2^T), both (d_hidden, d): row i
is hidden unit i's input weights and output weights.  One inner gradient step
per token on the attentional bias of the error e = M(k) - v, then the read
y = M(q) of the new state.  The inner gradient is taken at a gradient point
`at` (the state itself, or the CMS block-start state, MATH §6.1); retention
and forgetting act on the state.
"""
from __future__ import annotations

import numpy as np

from hecate_edge.reference.mathfn import sigmoid
from hecate_edge.reference.retention import elastic, shrink

# What the MLP rules declare unless they say otherwise (rules/__init__.py):
# MATH §3.1 gates and level-0 biases, q and k unnormalized by default (A3).
GATES = (("alpha", "sigmoid"), ("theta", "softplus"))
DEFAULT_GATE_BIAS = ((-7.0, -4.6),)
QK_NORM = False
# MATH §3.8: an MLP memory takes L2 decay or the elastic net toward its prior
# (MEMORA also KL, its default).
RETENTION = "l2"
RETENTIONS = ("l2", "elastic_net")
# An MLP memory moves ~100x less per token than a matrix memory, so its
# default threshold scale is ~100x smaller (MATH §3.8).
ELASTIC_LAMBDA_1 = 1e-4
HASH_MULT = 2654435761
# MATH §3.5: KL retention works on log max(W, 1e-8).
LOG_FLOOR = 1e-8


def silu(z):
    """silu(z) = z sigmoid(z)."""
    return z * sigmoid(z)


def silu_grad(z):
    """silu'(z) = s (1 + z (1 - s)), s = sigmoid(z)."""
    s = sigmoid(z)
    return s * (1.0 + z * (1.0 - s))


def unit_hash(n: int) -> np.ndarray:
    """MATH §3.5: hash(i) = (i * 2654435761 mod 2^32) / (2^32 - 1) for i = 0 .. n-1."""
    i = np.arange(n, dtype=np.uint64)
    return ((i * HASH_MULT) % (1 << 32)).astype(np.float64) / float((1 << 32) - 1)


def check_hidden(d: int, params: tuple[float, ...]) -> None:
    """d_hidden (the first hyper-parameter) is an integer in 1..4096."""
    h = params[0]
    if not (h == int(h) and 1 <= h <= 4096):
        raise ValueError(f"d_hidden must be an integer in 1..4096, got {h}")


def hidden(hp: dict) -> int:
    return int(hp["d_hidden"])


# MATH §3.5 / DECISIONS D49: the hash init's scale s; 0, what files and config
# dicts written before the parameter hold, means the reference's 0.1.  (Files
# written from D49 to D70 hold 2 sqrt 3, Xavier-uniform.)
LEGACY_W1_SCALE = 0.1


def unit_w1_scale(d: int) -> float:
    """MATH §3.5 / DECISIONS D70: the s that draws W1 uniform in [-sqrt 3, sqrt 3]
    (unit variance) for d_hidden = d, so a unit-norm key gives pre-activations of
    about unit variance and the memory's read answers from its first write."""
    return float(np.sqrt(12.0 * d))


# MATH §3.5 / DECISIONS D51, D70: the bound c of the inner gradient of new MONETA
# and YAAD models (1 for MONETA from D51 to D70); 0, what files and config dicts
# written before the parameter hold, is off.
GRAD_BOUND = 10.0


def check_scales(w1_scale: float, grad_bound: float) -> None:
    """w1_scale (0: the legacy 0.1) and grad_bound (0: off), each 0 or in (0, 1e6]."""
    for name, value, zero in (("w1_scale", w1_scale, "the legacy 0.1"), ("grad_bound", grad_bound, "off")):
        if not 0 <= value <= 1e6:
            raise ValueError(f"{name} must be 0 ({zero}) or in (0, 1e6], got {value}")


def bound_grad(grad: np.ndarray, bound: float) -> np.ndarray:
    """MATH §3.5 / DECISIONS D51: G / sqrt(1 + ||G||^2 / c^2), ||G|| the Frobenius
    norm over G1 and G2, so ||G~|| < c; c = 0 (files and dicts from before the
    parameter) leaves G as it is."""
    if not bound:
        return grad
    return grad / np.sqrt(1.0 + np.sum(grad * grad) / (bound * bound))


def w1_width(d: int, hp: dict) -> float:
    """MATH §3.5: the width s sqrt(2/(d+h)) of the uniform draw of W1 (standard
    deviation width / sqrt 12), s = w1_scale (0: the legacy 0.1)."""
    return (hp["w1_scale"] or LEGACY_W1_SCALE) * np.sqrt(2.0 / (d + hidden(hp)))


def hash_init(d: int, hp: dict) -> np.ndarray:
    """MATH §3.5 (MONETA, YAAD): W1[i, j] = s sqrt(2/(d+h)) (hash(i d + j) - 0.5), W2 = 0."""
    h = hidden(hp)
    w1 = w1_width(d, hp) * (unit_hash(h * d).reshape(h, d) - 0.5)
    return np.stack([w1, np.zeros((h, d))])


def apply(state: np.ndarray, x: np.ndarray) -> np.ndarray:
    """M(x) = silu(W1 x) W2."""
    return silu(state[0] @ x) @ state[1]


def inner_grad(state: np.ndarray, km: np.ndarray, vm: np.ndarray, bias) -> np.ndarray:
    """The gradient (G1, G2^T) of the attentional bias at k, stacked like the state.

    z = W1 k, h = silu(z), e = h W2 - v, g = bias(e);
    G2^T[i] = h_i g ;  G1[i] = (W2^T[i] . g) silu'(z_i) k."""
    w1, w2t = state
    z = w1 @ km
    h = silu(z)
    g = bias(h @ w2t - vm)
    r = (w2t @ g) * silu_grad(z)
    return np.stack([np.outer(r, km), np.outer(h, g)])


def l2_step(state, grad, gates, lambda_2: float, prior: np.ndarray, hp: dict | None = None) -> np.ndarray:
    """MATH §3.5 L2 retention of an MLP memory: forgetting pulls W back to the
    rule's init state W0 (its prior; never the zero fixed point), lambda_2 to 0:
    W' = W0 + (1 - alpha)(W - W0) - theta (G + 2 lambda_2 W); with the elastic
    net (MATH §3.8) then W' = W0 + shrink(W' - W0, lambda_1 theta)."""
    keep = 1.0 - gates["alpha"] - 2.0 * gates["theta"] * lambda_2
    new = keep * state + gates["alpha"] * prior - gates["theta"] * grad
    lambda_1 = elastic(hp)
    return shrink(new, prior, lambda_1 * gates["theta"]) if lambda_1 else new


def log_floor(w: np.ndarray) -> np.ndarray:
    return np.log(np.maximum(w, LOG_FLOOR))


def kl_step(state, grad, gates, prior: np.ndarray) -> np.ndarray:
    """MATH §3.5 KL retention toward the prior W0: each simplex vector
    w' = softmax((1 - alpha) log w + alpha log w0 - theta g) (logs of max(., 1e-8)).
    The simplex vectors are the rows of W1 and the rows of W2 (columns of the stored W2^T)."""
    alpha = gates["alpha"]
    pre = (1.0 - alpha) * log_floor(state) + alpha * log_floor(prior) - gates["theta"] * grad
    w1 = np.exp(pre[0] - pre[0].max(axis=1, keepdims=True))
    w2t = np.exp(pre[1] - pre[1].max(axis=0, keepdims=True))
    return np.stack([w1 / w1.sum(axis=1, keepdims=True), w2t / w2t.sum(axis=0, keepdims=True)])


def read(state: np.ndarray, qm: np.ndarray, hp: dict | None = None) -> np.ndarray:
    """y = M(q) (after the write, or of the current state when frozen)."""
    return apply(state, qm)


def l2_write_read(init_state, bias):
    """write_read(state, km, vm, qm, gates, hp, at) of an L2-retention MLP rule with
    attentional bias bias(e, hp): W' = W0 + (1 - alpha)(W - W0) - theta (G~ + 2 lambda_2 W),
    y = M'(q), G taken at `at` (None: the state itself; MATH §6.1), G~ its
    norm bound with hp["grad_bound"]."""
    def write_read(state, km, vm, qm, gates, hp, at=None):
        grad = inner_grad(state if at is None else at, km, vm, lambda e: bias(e, hp))
        grad = bound_grad(grad, hp["grad_bound"])
        new = l2_step(state, grad, gates, hp["lambda_2"], init_state(len(km), hp), hp)
        return new, apply(new, qm)
    return write_read
