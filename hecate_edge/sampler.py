"""The byte sampler every target shares (wasm/sampler.js is the same spec in JS).

Owns the xorshift32 PRNG and greedy / temperature + top-k sampling specified
in docs/WASM.md, in plain Python (no numpy), so a native run, the browser
demo and Pyodide draw identical bytes from identical logits.
"""

from __future__ import annotations

import math

_MASK32 = 0xFFFFFFFF
_SEED_MIX = 0x9E3779B9


class XorShift32:
    """xorshift32 (shifts 13, 17, 5).  The state starts at (seed XOR
    0x9E3779B9) mod 2^32, or 1 if that is 0."""

    def __init__(self, seed: int = 0):
        self.state = ((seed & _MASK32) ^ _SEED_MIX) or 1

    def next(self) -> int:
        """The next 32-bit state."""
        x = self.state
        x ^= (x << 13) & _MASK32
        x ^= x >> 17
        x ^= (x << 5) & _MASK32
        self.state = x
        return x

    def uniform(self) -> float:
        """(next() >> 8) / 2^24, in [0, 1)."""
        return (self.next() >> 8) / 16777216


def argmax(logits) -> int:
    """Index of the largest value (the lowest index among ties)."""
    best = 0
    for i, value in enumerate(logits):
        if value > logits[best]:
            best = i
    return best


def sample(logits, rng: XorShift32, temperature: float = 0.0, top_k: int = 0) -> int:
    """Next token from `logits` (a sequence of V numbers).  temperature <= 0:
    argmax, no draw.  Else the candidates are the indices by descending logit
    (ties: lower index first), cut to the first top_k (top_k <= 0 or >= V:
    all); weights exp((l_i - l_max) / temperature) in float64, summed in that
    order; one u = rng.uniform(); the first candidate whose running sum
    exceeds u * total (the last one if rounding leaves none)."""
    values = [float(v) for v in logits]
    if not temperature > 0:
        return argmax(values)
    order = sorted(range(len(values)), key=lambda i: (-values[i], i))
    keep = order[:top_k] if 0 < top_k < len(order) else order
    top = values[keep[0]]
    weights = [math.exp((values[i] - top) / temperature) for i in keep]
    total = 0.0
    for w in weights:
        total += w
    target = rng.uniform() * total
    running = 0.0
    for index, w in zip(keep, weights):
        running += w
        if running > target:
            return index
    return keep[-1]


def generate(session, prompt: bytes, max_tokens: int, seed: int = 0, temperature: float = 0.0,
             top_k: int = 0, on_token=None) -> bytes:
    """Feed `prompt` (empty: one newline byte) with session.process, then
    sample max_tokens bytes with session.step; `on_token(byte)` is called
    for each as it comes (streaming output).  Works with any session whose
    process() returns per-token rows of logits (hecate_edge.runtime,
    hecate_edge.wasm_backend)."""
    rng = XorShift32(seed)
    logits = session.process(list(prompt or b"\n"))[-1]
    out = bytearray()
    for _ in range(max_tokens):
        token = sample(logits, rng, temperature, top_k)
        out.append(token)
        if on_token is not None:
            on_token(token)
        logits = session.step(token)
    return bytes(out)
