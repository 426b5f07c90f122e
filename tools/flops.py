#!/usr/bin/env python3
"""flops.py — floating-point operations per token of the default model
(ModelConfig(d_model=d, n_heads=d//16): MAL, delta rule, 4-tap convolution,
qk-norm, rotary window attention, one layer) for `process`/`step` (the
forward, MATH §1-§4.2) and `train` (forward, loss §5 and backward §7), counted
from the math term by term, for the roofline table of benchmarks/RESULTS.md
§11.  A multiply, an add, a subtract, a divide, a square root and an exp each
count 1 (a dot of length n is 2n); comparisons (the softmax max) count 0.
The window is full (a session that has run more than `window` tokens, as in
tools/c_bench.sh), and `train` runs chunks of T tokens.  step_bytes counts
the other side of the roofline for `step`: the bytes one token moves (every
weight read once, the memory's state read twice and written once, the window
cache), which bound it where they do not fit the core's cache (d = 256).

usage: python tools/flops.py [d ...]   (default 64 128 256; prints a table)
"""
import sys


def forward_terms(d: int, heads: int, window: int = 16, vocab: int = 256, conv_k: int = 4,
                  n_gates: int = 2) -> dict[str, int]:
    """Per-token flops of the forward, by term (MATH section in each key)."""
    hd = d // heads
    return {
        "§3.1 memory projections k, v, q": 3 * 2 * d * d,
        "§3.1 convolution (3 streams, K taps)": 3 * (2 * conv_k - 1) * d,
        "§3.1 qk-norm (k, q: dot, sqrt, divide, scale)": 2 * (2 * d + 2 + d),
        "§3.1 gates (two d-dots, bias, activation)": n_gates * (2 * 2 * d + 2 + 4),
        "§3.2 delta e = k S - v": 2 * d * d + d,
        "§3.2 delta S' = (1-a) S - (theta k)^T e": 3 * d * d + d + 1,
        "§3.2 delta read y = q S'": 2 * d * d,
        "§4.2 residual z = y + x": d,
        "§2 attention projections q, k, v": 3 * 2 * d * d,
        # per head and window entry: turn q (2 mul + 1 add per entry), score dot and scale,
        # exp of the shifted score (2), the sum (1), normalize (1), a += p v (2 hd)
        "§2 window attention": heads * window * (3 * hd + 2 * hd + 1 + 2 + 1 + 1 + 2 * hd),
        "§4.2 output projection a Wo": 2 * d * d,
        "§4 head p head": 2 * d * vocab,
    }


def backward_terms(d: int, heads: int, window: int = 16, vocab: int = 256, conv_k: int = 4,
                   n_gates: int = 2, chunk: int = 16) -> dict[str, float]:
    """Per-token flops of the loss and the backward (MATH §5, §7), by term."""
    hd = d // heads
    # window entries of a token that lie in its chunk (they take dk, dv): t + 1 for
    # token t of the chunk, at most the window
    own = sum(min(t + 1, window) for t in range(chunk)) / chunk
    return {
        "§5 softmax cross-entropy (shift, exp, sum, log, scale)": 5 * vocab,
        "§7 head dW, dp": 2 * 2 * d * vocab,
        "§7 output projection dW, da": 2 * 2 * d * d,
        # per head and entry: dP dot (2 hd), <p, dP> (2), dscore (3), dq += g k (2 hd),
        # turn q again (3 hd) and turn dq back (3 hd); own entries: dk (2 hd), dv (2 hd)
        "§7 window attention": heads * (window * (2 * hd + 2 + 3 + 2 * hd + 3 * hd + 3 * hd) + own * 4 * hd),
        "§7 attention projections dW, dz": 3 * 2 * 2 * d * d,
        "§4.2 residual dx += dz": d,
        "§7 delta dS += q^T dy, dq = S' dy": 2 * d * d + 2 * d * d,
        "§7 delta u = k dS, dalpha = -<dS, S>, dtheta": 2 * d * d + 2 * d * d + 2 * d,
        "§7 delta de, dv, dk = -theta dS e + S de": 2 * d + 2 * d * d + 2 * d * d + 2 * d,
        "§7 delta dS = (1-a) dS + k^T de": 3 * d * d,
        "§3.1 gates backward (activation', 4 d-axpys)": n_gates * (3 + 4 * 2 * d + 1),
        "§3.1 qk-norm backward (k, q)": 2 * (2 * d + 3 * d + 1),
        "§3.1 convolution backward (3 streams)": 3 * (conv_k * 2 * d + (conv_k - 1) * 2 * d),
        "§7 memory projections dW, dx": 3 * 2 * 2 * d * d,
        "§1 embedding gradient": d,
    }


def flops_per_token(d: int, heads: int | None = None, **kw) -> dict[str, float]:
    """{'process': forward, 'step': forward (same math, one token a call),
    'train': forward + loss + backward} per token."""
    heads = heads or d // 16
    chunk = kw.pop("chunk", 16)
    fwd = sum(forward_terms(d, heads, **kw).values())
    bwd = sum(backward_terms(d, heads, chunk=chunk, **kw).values())
    return {"process": fwd, "step": fwd, "train": fwd + bwd}


def step_weight_floats(d: int, vocab: int = 256, conv_k: int = 4, n_gates: int = 2) -> int:
    """Weights one `step` reads: seven d x d projections (memory k, v, q; attention q, k, v, o),
    the head, the three convolutions, the gates and one embedding row."""
    return 7 * d * d + d * vocab + 3 * conv_k * d + n_gates * (2 * d + 1) + d


def step_bytes(d: int, window: int = 16, real_bytes: int = 4, **kw) -> int:
    """Bytes a `step` moves (MATH §3.2's delta rule: k S reads the state, the fused write
    and read y = q S' reads it again and writes it; the window's keys and values read, the
    new entry written)."""
    state = 3 * d * d
    cache = 2 * window * d + 2 * d
    return real_bytes * (step_weight_floats(d, **kw) + state + cache)


def main(argv: list[str]) -> None:
    sizes = [int(a) for a in argv] or [64, 128, 256]
    print("| d | process / step flops/token | train flops/token | step bytes/token |")
    print("|---|---:|---:|---:|")
    for d in sizes:
        f = flops_per_token(d)
        print(f"| {d} | {f['process']:,.0f} | {f['train']:,.0f} | {step_bytes(d):,} |")


if __name__ == "__main__":
    main(sys.argv[1:])
