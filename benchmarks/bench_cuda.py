"""The CUDA sweep (a script, not a pytest-benchmark file: GPU work is timed
with CUDA events around whole calls): the delta rule's forward over a batch
of B sessions x H heads x T tokens at head width d, in one run, by

- hecate_cuda: libhecate_cuda's kernel (state on chip across the T tokens;
  each call includes its incoming-state NaN check and a device sync),
- hecate_cuda_chunk: its chunked forward (16 tokens at a time as matrix
  products, docs/CUDA.md; the same check and sync),
- torch_eager: a PyTorch loop over tokens (batched matmuls per token),
- fla_fused_recurrent / fla_chunk: flash-linear-attention's Triton delta
  rule (fla-core), fused recurrent and chunked forms (no decay: alpha = 0 for
  every implementation, theta = fla's beta, q scale 1),

plus hecate_cuda's Titans as a reference point.  Before timing, every
implementation's output is checked against hecate_cuda's on a small shape.
With --backward, a second table: a training pass, forward then backward for
dq, dk, dv and the step size (hecate_cuda_rule_forward + _backward; fla's
forward and autograd backward), after the same check of the gradients;
FLOPs counted as forward + backward of the recurrent form, 7 + 15 d^2 per
token and head (docs/MATH.md §7).
Then whole-model serving (--model table): a micro model file (d 64, 4 heads,
window 16, delta, MAG) fed as n sessions x T tokens per call through
Model.session_batch(n, backend="cuda") (tokens up, logits down included) and
one C runtime session on this machine's CPU for scale.
FLOP count (every implementation, recurrent form): 7 d^2 per token and head
(k S: 2 d^2; the decayed rank-1 write keep S - (theta k)^T e: 3 d^2; q S: 2 d^2).
Titans: 9 d^2.  Run on a GPU machine:

    HECATE_EDGE_LIB_DIR=build/cuda python3 benchmarks/bench_cuda.py --peak-tflops 67 --model --backward
"""
from __future__ import annotations

import argparse
import sys
import time

SHAPES = [(B, 4, T, d) for B in (1, 64, 1024) for T in (16, 1024) for d in (64, 128)]
FLOPS_PER_TOKEN = {"delta": 7, "titans": 9}  # times d^2, per head
TRAIN_FLOPS_PER_TOKEN = 7 + 15  # delta forward + backward, times d^2, per head


def make_inputs(torch, B, H, T, d, seed=0):
    """(B, H, T, d) q, k (normalized), v; alpha = 0, theta in (0.1, 0.5): fla's delta rule."""
    g = torch.Generator(device="cuda").manual_seed(seed)
    q, k, v = (torch.randn(B, H, T, d, device="cuda", generator=g) for _ in range(3))
    q = q / q.norm(dim=-1, keepdim=True)
    k = k / k.norm(dim=-1, keepdim=True)
    theta = 0.1 + 0.4 * torch.rand(B, H, T, device="cuda", generator=g)
    return q, k, v, theta


class Hecate:
    """libhecate_cuda's rule forward on torch tensors (device pointers)."""

    def __init__(self, torch):
        from hecate_edge import cuda

        self.torch = torch
        self.ffi, self.lib = cuda._ready()
        self.check = cuda._check

    def prepare(self, rule, q, k, v, theta, chunked=False):
        """A no-argument call running `rule` ("delta" or "titans") from a zero state; chunked: the
        chunked forward (hecate_cuda_rule_forward_chunked, delta only)."""
        return _HecateCall(self, rule, q, k, v, theta, chunked)


class _HecateCall:
    """One prepared hecate_cuda_rule_forward; holds every tensor its raw pointers point into."""

    def __init__(self, hecate, rule, q, k, v, theta, chunked=False):
        torch, ffi, lib = hecate.torch, hecate.ffi, hecate.lib
        B, H, T, d = q.shape
        self.hecate, self.inputs = hecate, (q, k, v)
        self.gates = torch.zeros(B, H, T, {"delta": 2, "titans": 3}[rule], device="cuda")
        self.gates[..., 1] = theta
        if rule == "titans":
            self.gates[..., 2] = 0.8
        self.state = torch.zeros(B, H, (2 if rule == "titans" else 1) * d * d, device="cuda")
        self.y = torch.empty_like(q)
        spec = ffi.new("hecate_rule_spec *", {"rule": {"delta": 0, "titans": 1}[rule], "d": d})
        ptr = lambda t: ffi.cast("float *", t.data_ptr())
        self.args = (spec, B * H, T, ptr(k), ptr(v), ptr(q), ptr(self.gates), ptr(self.state), ptr(self.y))
        self.call = lib.hecate_cuda_rule_forward_chunked if chunked else lib.hecate_cuda_rule_forward

    def __call__(self):
        self.state.zero_()
        self.hecate.check(self.call(*self.args))
        return self.y


class _HecateTrainCall:
    """hecate_cuda_rule_forward then hecate_cuda_rule_backward of the delta rule from a zero
    state, dy given; its gradients as (dq, dk, dv, dtheta) in (B, H, T, d) / (B, H, T).
    chunked: the chunked forward and backward (hecate_cuda_rule_*_chunked)."""

    def __init__(self, hecate, q, k, v, theta, dy, chunked=False):
        torch, ffi, lib = hecate.torch, hecate.ffi, hecate.lib
        self.forward = _HecateCall(hecate, "delta", q, k, v, theta, chunked)
        B, H, T, d = q.shape
        self.state0 = torch.zeros_like(self.forward.state)
        self.dq, self.dk, self.dv = (torch.empty_like(q) for _ in range(3))
        self.dgates = torch.empty_like(self.forward.gates)
        spec = self.forward.args[0]
        n = ffi.new("size_t *")
        work_len = lib.hecate_cuda_rule_backward_chunked_len if chunked else lib.hecate_cuda_rule_backward_len
        hecate.check(work_len(spec, B * H, T, n))
        self.backward = lib.hecate_cuda_rule_backward_chunked if chunked else lib.hecate_cuda_rule_backward
        self.work = torch.empty(max(int(n[0]), 1), device="cuda")
        self.hecate, self.dy = hecate, dy
        ptr = lambda t: ffi.cast("float *", t.data_ptr())
        self.args = (spec, B * H, T, ptr(k), ptr(v), ptr(q), ptr(self.forward.gates), ptr(self.state0), ptr(dy),
                     ptr(self.dk), ptr(self.dv), ptr(self.dq), ptr(self.dgates), ptr(self.work))

    def __call__(self):
        self.forward()
        self.hecate.check(self.backward(*self.args))
        return self.dq, self.dk, self.dv, self.dgates[..., 1]


def fla_train_runs(torch, q, k, v, theta, dy):
    """fla's fused-recurrent (float32) and chunked (bfloat16) delta rule, forward then autograd
    backward with output gradient dy; gradients back in (B, H, T, d) / (B, H, T) float32."""
    from fla.ops.delta_rule import chunk_delta_rule, fused_recurrent_delta_rule

    def make(op, dtype):
        leaves = [x.transpose(1, 2).contiguous().to(dtype).requires_grad_() for x in (q, k, v, theta)]
        do = dy.transpose(1, 2).contiguous().to(dtype)

        def run():
            for leaf in leaves:
                leaf.grad = None
            op(*leaves, scale=1.0)[0].backward(do)
            dq, dk, dv, dbeta = (leaf.grad.transpose(1, 2).float() for leaf in leaves)
            return dq, dk, dv, dbeta
        return run
    return {"fla_fused_recurrent": make(fused_recurrent_delta_rule, torch.float32),
            "fla_chunk": make(chunk_delta_rule, torch.bfloat16)}


def train_implementations(torch, hecate, q, k, v, theta, with_fla):
    """Makers of the timed training calls by name (each allocates its buffers when made)."""
    dy = torch.randn_like(q)
    runs = {"hecate_cuda": lambda: _HecateTrainCall(hecate, q, k, v, theta, dy),
            "hecate_cuda_chunk": lambda: _HecateTrainCall(hecate, q, k, v, theta, dy, chunked=True)}
    if with_fla:
        for name in ("fla_fused_recurrent", "fla_chunk"):
            runs[name] = lambda name=name: fla_train_runs(torch, q, k, v, theta, dy)[name]
    return runs


def cross_check_train(torch, hecate, with_fla):
    """Every implementation's four gradients against hecate_cuda's on one small shape."""
    q, k, v, theta = make_inputs(torch, 2, 4, 100, 64, seed=1)
    runs = {name: make() for name, make in train_implementations(torch, hecate, q, k, v, theta, with_fla).items()}
    want = [g.clone() for g in runs.pop("hecate_cuda")()]
    for name, fn in runs.items():
        for label, got, ref in zip(("dq", "dk", "dv", "dtheta"), fn(), want):
            rel = float((got - ref).norm() / ref.norm())
            print(f"cross-check {name} {label} vs hecate_cuda: rms-relative {rel:.2e}", flush=True)
            if rel > (1e-1 if name == "fla_chunk" else 1e-3):  # bfloat16 inputs and gradients vs float32
                sys.exit(f"{name} {label} disagrees with hecate_cuda ({rel:.2e}): not timing")


def train_table(torch, hecate, with_fla, args):
    """Forward + backward per implementation and shape."""
    cross_check_train(torch, hecate, with_fla)
    sweep(torch, "forward + backward", lambda *inputs: train_implementations(torch, hecate, *inputs, with_fla),
          lambda name: TRAIN_FLOPS_PER_TOKEN, args)


def sweep(torch, column, runs_of, flops_of, args, skip=lambda name, tokens: False):
    """One table row per shape of args.widths and args.batches and implementation:
    runs_of(q, k, v, theta) gives makers of the timed calls by name (one call's buffers live at
    a time), flops_of(name) their FLOPs per token and head over d^2; skip(name, B*H*T) leaves
    one out."""
    peak_tflops = args.peak_tflops
    print(f"| B | H | T | d | {column} | ms/call | reps | Mtok/s | GFLOP/s | % fp32 peak |")
    print("|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|")
    for B, H, T, d in (shape for shape in SHAPES if shape[3] in args.widths and shape[0] in args.batches):
        q, k, v, theta = make_inputs(torch, B, H, T, d)
        for name, make in runs_of(q, k, v, theta).items():
            if skip(name, B * H * T):
                continue
            t0 = time.perf_counter()
            fn = make()
            secs, reps = time_call(torch, fn)
            del fn
            torch.cuda.empty_cache()
            gflops = flops_of(name) * d * d * B * H * T / secs / 1e9  # B * H * T token-heads
            print(f"| {B} | {H} | {T} | {d} | {name} | {secs * 1e3:.3f} | {reps} | {B * T / secs / 1e6:.3f} "
                  f"| {gflops:.1f} | {100 * gflops / (peak_tflops * 1e3):.2f} |", flush=True)
            if time.perf_counter() - t0 > 60:
                print(f"(slow: {name} took {time.perf_counter() - t0:.0f} s)", flush=True)
        del q, k, v, theta
        torch.cuda.empty_cache()


def torch_eager(torch, q, k, v, theta):
    """The delta rule token by token in PyTorch (alpha = 0), state (B*H, d, d)."""
    B, H, T, d = q.shape
    qf, kf, vf = (x.reshape(B * H, T, d) for x in (q, k, v))
    th = theta.reshape(B * H, T)

    def run():
        S = torch.zeros(B * H, d, d, device="cuda")
        y = torch.empty_like(qf)
        for t in range(T):
            kt = kf[:, t]
            e = torch.bmm(kt[:, None, :], S)[:, 0] - vf[:, t]
            S = S - (th[:, t, None] * kt)[:, :, None] * e[:, None, :]
            y[:, t] = torch.bmm(qf[:, t, None, :], S)[:, 0]
        return y.reshape(B, H, T, d)
    return run


def fla_runs(torch, q, k, v, theta):
    """fla-core's fused-recurrent (float32) and chunked (bfloat16 inputs: fla 0.6 refuses float32
    there) delta rule on (B, T, H, d) copies."""
    from fla.ops.delta_rule import chunk_delta_rule, fused_recurrent_delta_rule

    qt, kt, vt = (x.transpose(1, 2).contiguous() for x in (q, k, v))
    beta = theta.transpose(1, 2).contiguous()
    qb, kb, vb, bb = (x.bfloat16() for x in (qt, kt, vt, beta))
    back = lambda o: o.transpose(1, 2).float()
    fused = lambda: back(fused_recurrent_delta_rule(qt, kt, vt, beta, scale=1.0)[0])
    chunk = lambda: back(chunk_delta_rule(qb, kb, vb, bb, scale=1.0)[0])
    return {"fla_fused_recurrent": fused, "fla_chunk": chunk}


def time_call(torch, fn, budget_s=0.5, max_reps=50):
    """Mean seconds per call: one warm-up, then reps until the budget is spent."""
    fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    reps, total = 0, 0.0
    while reps < max_reps and (total < budget_s or reps < 3):
        start.record()
        fn()
        end.record()
        end.synchronize()
        total += start.elapsed_time(end) / 1e3
        reps += 1
    return total / reps, reps


def implementations(torch, hecate, q, k, v, theta, with_fla):
    """Makers of the timed forward calls by name (each allocates its buffers when made)."""
    runs = {"hecate_cuda": lambda: hecate.prepare("delta", q, k, v, theta),
            "hecate_cuda_chunk": lambda: hecate.prepare("delta", q, k, v, theta, chunked=True),
            "torch_eager": lambda: torch_eager(torch, q, k, v, theta)}
    if with_fla:
        for name in ("fla_fused_recurrent", "fla_chunk"):
            runs[name] = lambda name=name: fla_runs(torch, q, k, v, theta)[name]
    runs["hecate_cuda_titans"] = lambda: hecate.prepare("titans", q, k, v, theta)
    return runs


def cross_check(torch, hecate, with_fla):
    """Every delta implementation's output against hecate_cuda's on one small shape."""
    q, k, v, theta = make_inputs(torch, 2, 4, 100, 64, seed=1)
    runs = {name: make() for name, make in implementations(torch, hecate, q, k, v, theta, with_fla).items()}
    want = runs.pop("hecate_cuda")().clone()
    runs.pop("hecate_cuda_titans")
    for name, fn in runs.items():
        got = fn()
        rel = float((got - want).norm() / want.norm())
        print(f"cross-check {name} vs hecate_cuda: rms-relative {rel:.2e}", flush=True)
        if rel > (5e-2 if name == "fla_chunk" else 1e-3):  # bfloat16 inputs vs float32
            sys.exit(f"{name} disagrees with hecate_cuda ({rel:.2e}): not timing")


MODEL_SHAPES = [(n, T) for n in (1, 64, 1024) for T in (16, 1024)]


def model_table():
    """Tokens/s of whole-model sessions: the CUDA batch and one CPU session of the same file."""
    import numpy as np

    from hecate_edge.config import ModelConfig
    from hecate_edge.reference.init import init_params
    from hecate_edge.runtime import Model
    from hecate_edge.train import model_bytes

    cfg = ModelConfig(d_model=64, n_heads=4, window=16, rule="delta")
    model = Model(model_bytes(cfg, init_params(cfg, seed=0)))
    rng = np.random.default_rng(0)
    print("| sessions | T per call | backend | ms/call | calls | tok/s |")
    print("|---:|---:|---|---:|---:|---:|")
    for n, T in MODEL_SHAPES:
        tokens = rng.integers(0, 256, (n, T))
        runs = {"cuda": model.session_batch(n, backend="cuda", max_chunk=64)}
        if n == 1:
            runs["cpu (1 core)"] = model.session_batch(1, backend="cpu", max_chunk=64)
        for name, batch in runs.items():
            batch.process(tokens)
            calls, start = 0, time.perf_counter()
            while calls < 3 or (time.perf_counter() - start < 0.5 and calls < 50):
                batch.process(tokens)
                calls += 1
            secs = (time.perf_counter() - start) / calls
            print(f"| {n} | {T} | {name} | {secs * 1e3:.3f} | {calls} | {n * T / secs:,.0f} |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peak-tflops", type=float, default=67.0, help="fp32 (non-tensor-core) peak, TFLOP/s")
    parser.add_argument("--model", action="store_true", help="also the whole-model serving table")
    parser.add_argument("--backward", action="store_true", help="also the forward + backward table")
    parser.add_argument("--skip-forward", action="store_true", help="no forward table")
    parser.add_argument("--widths", type=int, nargs="+", default=sorted({s[3] for s in SHAPES}),
                        help="only the shapes of these head widths d")
    parser.add_argument("--batches", type=int, nargs="+", default=sorted({s[0] for s in SHAPES}),
                        help="only the shapes of these batch sizes B")
    parser.add_argument("--eager-max-tokens", type=int, default=1 << 31,
                        help="skip the eager loop above this many B*H*T tokens")
    args = parser.parse_args()
    import torch
    from hecate_edge import cuda

    try:
        import fla  # noqa: F401
        with_fla = True
    except ImportError as exc:
        print(f"flash-linear-attention not importable ({exc}): fla columns skipped")
        with_fla = False
    hecate = Hecate(torch)
    print(f"device: {cuda.device_name()}; torch {torch.__version__}; "
          f"fla {getattr(fla, '__version__', '?') if with_fla else 'absent'}")
    if not args.skip_forward:
        forward_table(torch, hecate, with_fla, args)
    if args.backward:
        train_table(torch, hecate, with_fla, args)
    if args.model:
        model_table()


def forward_table(torch, hecate, with_fla, args):
    """Forward per implementation and shape."""
    cross_check(torch, hecate, with_fla)
    sweep(torch, "implementation", lambda *inputs: implementations(torch, hecate, *inputs, with_fla),
          lambda name: FLOPS_PER_TOKEN["titans" if "titans" in name else "delta"], args,
          skip=lambda name, tokens: name == "torch_eager" and tokens > args.eager_max_tokens)


if __name__ == "__main__":
    main()
