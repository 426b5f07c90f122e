"""The chunked form of the delta and Hebbian rules (docs/CUDA.md "Chunked forward" and "Chunked
backward"; MATH §3.2, §3.4) in float64: the executable spec of the CUDA chunked forward and
backward (cuda/src/chunk_forward.cu, chunk_backward.cu).  One sequence: k, v, q (T, d), alpha,
theta (T,) after their activations, state (d, d); equal to the token-by-token rule up to rounding.

Inside a chunk from state S0, with b the prefix sums of log(1 - alpha) (floored at LOG_KEEP_MIN),
gamma_t = exp(b_t), the writes U solve (I + L) U = Theta V - Theta Gamma_prev K S0, so
U = U0 - W S0; the reads are Y = Gamma Q S0 + A U and the end state
S1 = gamma_last S0 + K^T diag(gamma_last / gamma_s) U.  The backward runs the chunks in reverse,
carrying the gradient of the state, through each of these products, the triangular solve
(dR = (I + L)^-T dX, dL = -dR X^T below the diagonal) and the decays (all functions of b).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

LOG_KEEP_MIN = -80.0  # log(1 - alpha) floor: alpha = 1 keeps e^-80 of the state (as the kernel)


class _Chunk(NamedTuple):
    """One chunk's state-independent terms (rows t of the chunk)."""
    b: np.ndarray       # (C,) prefix sums of log(1 - alpha)
    clamped: np.ndarray  # (C,) whether log(1 - alpha) hit the floor
    E: np.ndarray       # (C, C) gamma_{t-1} / gamma_s below the diagonal
    Dm: np.ndarray      # (C, C) gamma_t / gamma_s on and below the diagonal
    KK: np.ndarray
    QK: np.ndarray
    M: np.ndarray       # I + L
    U0: np.ndarray
    W: np.ndarray


def _terms(k, v, q, alpha, theta, error: bool) -> _Chunk:
    C = k.shape[0]
    raw = np.log(1.0 - alpha)
    clamped = raw < LOG_KEEP_MIN
    b = np.cumsum(np.where(clamped, LOG_KEEP_MIN, raw))
    bp = np.concatenate([[0.0], b[:-1]])
    below, on_below = np.tril(np.ones((C, C), bool), -1), np.tril(np.ones((C, C), bool))
    E = np.where(below, np.exp(np.where(below, bp[:, None] - b[None, :], 0.0)), 0.0)
    Dm = np.where(on_below, np.exp(np.where(on_below, b[:, None] - b[None, :], 0.0)), 0.0)
    KK, QK = k @ k.T, q @ k.T
    th = theta if error else np.zeros(C)
    M = np.eye(C) + th[:, None] * E * KK
    if error:
        U0 = np.linalg.solve(M, th[:, None] * v)
        W = np.linalg.solve(M, (th * np.exp(bp))[:, None] * k)
    else:
        U0, W = v.copy(), np.zeros_like(k)
    return _Chunk(b, clamped, E, Dm, KK, QK, M, U0, W)


def chunk_forward(k, v, q, alpha, theta, state, chunk: int = 16, error: bool = True):
    """(y (T, d), final state (d, d)); error=False: the Hebbian rule (theta unused)."""
    y = np.empty_like(q)
    S = np.array(state, dtype=np.float64)
    for t0 in range(0, k.shape[0], chunk):
        sl = slice(t0, t0 + chunk)
        c = _terms(k[sl], v[sl], q[sl], alpha[sl], theta[sl], error)
        U = c.U0 - c.W @ S
        y[sl] = np.exp(c.b)[:, None] * (q[sl] @ S) + (c.Dm * c.QK) @ U
        F = np.exp(c.b[-1] - c.b)
        S = np.exp(c.b[-1]) * S + k[sl].T @ (F[:, None] * U)
    return y, S


def chunk_backward(k, v, q, alpha, theta, state, dy, chunk: int = 16, error: bool = True):
    """Gradients of sum(y * dy) of chunk_forward (the incoming state a constant, as
    hecate_rule_backward): dk, dv, dq (T, d), dalpha, dtheta (T,)."""
    T = k.shape[0]
    starts = list(range(0, T, chunk))
    states = [np.array(state, dtype=np.float64)]
    for t0 in starts[:-1]:
        sl = slice(t0, t0 + chunk)
        states.append(chunk_forward(k[sl], v[sl], q[sl], alpha[sl], theta[sl], states[-1], chunk, error)[1])
    dk, dv, dq = np.zeros_like(k), np.zeros_like(v), np.zeros_like(q)
    dalpha, dtheta = np.zeros(T), np.zeros(T)
    dS1 = np.zeros_like(states[0])
    for t0, S0 in zip(reversed(starts), reversed(states)):
        sl = slice(t0, t0 + chunk)
        grads, dS1 = _chunk_backward(k[sl], v[sl], q[sl], alpha[sl], theta[sl], S0, dy[sl], dS1, error)
        dk[sl], dv[sl], dq[sl], dalpha[sl], dtheta[sl] = grads
    return dk, dv, dq, dalpha, dtheta


def _chunk_backward(k, v, q, alpha, theta, S0, dY, dS1, error: bool):
    """One chunk's reverse: its input gradients and the gradient of its incoming state.  The decays
    are exps of sums of b: each use's exponent gradient (g* below) goes to d log(1 - alpha_u) for
    every token u its exponent spans (so each share already carries the factor 1 - alpha_u and no
    large terms cancel: d alpha keeps its precision as alpha nears 1)."""
    c = _terms(k, v, q, alpha, theta, error)
    C = k.shape[0]
    th = theta if error else np.zeros(C)
    b, bp = c.b, np.concatenate([[0.0], c.b[:-1]])
    G, Gp, F, g_end = np.exp(b), np.exp(bp), np.exp(b[-1] - b), np.exp(b[-1])
    U = c.U0 - c.W @ S0
    A = c.Dm * c.QK
    # S1 = g_end S0 + K^T (F U)
    dS0 = g_end * dS1
    g_last = g_end * np.sum(dS1 * S0)  # exponent b_last
    dk = (F[:, None] * U) @ dS1.T
    dP = k @ dS1
    gF = F * np.sum(dP * U, axis=1)  # exponents b_last - b_s
    dU = F[:, None] * dP
    # Y = G (Q S0) + A U
    QS = q @ S0
    dU += A.T @ dY
    dA = dY @ U.T
    dQS = G[:, None] * dY
    dq = dQS @ S0.T
    dS0 += q.T @ dQS
    gG = G * np.sum(dY * QS, axis=1)  # exponents b_t
    # U = U0 - W S0
    dS0 -= c.W.T @ dU
    dW = -dU @ S0.T
    dtheta = np.zeros(C)
    gGp, gE = np.zeros(C), np.zeros((C, C))  # exponents b_{t-1}, b_{t-1} - b_s
    if error:
        # U0 = M^-1 (theta V), W = M^-1 (theta Gp K)
        dR1 = np.linalg.solve(c.M.T, dU)
        dR2 = np.linalg.solve(c.M.T, dW)
        dL = np.tril(-(dR1 @ c.U0.T + dR2 @ c.W.T), -1)
        dv = th[:, None] * dR1
        dtheta += np.sum(dR1 * v, axis=1)
        rk = np.sum(dR2 * k, axis=1)
        dk += (th * Gp)[:, None] * dR2
        dtheta += Gp * rk
        gGp = Gp * th * rk
        # L = theta_t E KK below the diagonal
        dKK = th[:, None] * c.E * dL
        dtheta += np.sum(c.E * c.KK * dL, axis=1)
        gE = th[:, None] * c.KK * dL * c.E
        dk += (dKK + dKK.T) @ k
    else:
        dv = dU
    # A = Dm QK on and below the diagonal
    dQK = c.Dm * dA
    gD = c.QK * dA * c.Dm  # exponents b_t - b_s
    dq += dQK @ k
    dk += dQK.T @ q
    # d log(1 - alpha_u); the floor's tokens take no gradient
    dlk = np.array([g_last + gF[:u].sum() + gG[u:].sum() + gGp[u + 1:].sum() + gD[u:, :u].sum()
                    + gE[u + 1:, :u].sum() for u in range(C)])
    dalpha = np.where(c.clamped, 0.0, -dlk / (1.0 - alpha))
    return (dk, dv, dq, dalpha, dtheta), dS0
