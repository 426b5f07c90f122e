"""Scalar and vector functions of docs/MATH.md notation, in float64.

sigmoid and softplus are the stable forms of MATH notation (softplus exact, no
clamping); l2_normalize is the qk-norm of MATH §3.1; softmax is MATH §2's.
"""
import numpy as np

L2_EPS = 1e-8  # MATH §3.1: floor of the norm in km / max(||km||, 1e-8)


def sigmoid(x):
    """1 / (1 + e^-x), evaluated without overflow for either sign of x."""
    x = np.asarray(x, dtype=np.float64)
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))


def softplus(x):
    """MATH notation: softplus(x) = max(x, 0) + log1p(e^-|x|), exact for all x."""
    x = np.asarray(x, dtype=np.float64)
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """MATH §3.1: x / max(||x||, 1e-8)."""
    return x / max(float(np.sqrt(np.dot(x, x))), L2_EPS)


def softmax(s: np.ndarray) -> np.ndarray:
    """MATH §2: softmax over the last axis, subtracting the max before exponentiating."""
    z = np.exp(s - np.max(s, axis=-1, keepdims=True))
    return z / np.sum(z, axis=-1, keepdims=True)


def log_softmax(s: np.ndarray) -> np.ndarray:
    """MATH §5: log softmax over the last axis, max-subtracted."""
    shifted = s - np.max(s, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


# MATH §3.6 / §10: Muon's quintic Newton-Schulz coefficients
NS_COEFFS = (3.4445, -4.7750, 2.0315)


def ns_iterate(x: np.ndarray, steps: int) -> np.ndarray:
    """`steps` quintic Newton-Schulz iterations X <- a X + (b A + c A^2) X, A = X X^T."""
    a, b, c = NS_COEFFS
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x
