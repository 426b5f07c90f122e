"""Where a CUDA training call's time goes: the delta rule's forward then backward
(bench_cuda.py's training call: hecate_cuda_rule_forward, then
hecate_cuda_rule_backward, the chunked pair unless --recurrent) over B sessions x
H heads x T tokens at width d, timed whole as bench_cuda.py times its calls,
then each kernel's ms a call by the torch profiler.  Run on a GPU machine:

    HECATE_EDGE_LIB_DIR=build/cuda python3 benchmarks/cuda_kernel_times.py 1024 4 1024 128
"""
from __future__ import annotations

import argparse

import bench_cuda


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name in ("B", "H", "T", "d"):
        parser.add_argument(name, type=int)
    parser.add_argument("--recurrent", action="store_true", help="the token-by-token kernels, not the chunked")
    parser.add_argument("--calls", type=int, default=3, help="calls the profiler averages")
    args = parser.parse_args()
    import torch
    from torch.profiler import ProfilerActivity, profile

    q, k, v, theta = bench_cuda.make_inputs(torch, args.B, args.H, args.T, args.d)
    call = bench_cuda._HecateTrainCall(bench_cuda.Hecate(torch), q, k, v, theta, torch.randn_like(q),
                                       chunked=not args.recurrent)
    ms = 1e3 * bench_cuda.time_call(torch, call)[0]  # the sweep's timing, so the tables compare
    print(f"{args.B} x {args.H} x {args.T}, d = {args.d}: {ms:.2f} ms a call, {args.B * args.T / ms / 1e3:.2f} Mtok/s")
    with profile(activities=[ProfilerActivity.CUDA], acc_events=True) as prof:
        for _ in range(args.calls):
            call()
        torch.cuda.synchronize()
    for event in prof.key_averages():
        if event.device_time_total > 0:
            print(f"  {event.key[:72]:72s} {event.device_time_total / args.calls / 1e3:8.2f} ms  "
                  f"x{event.count // args.calls}")


if __name__ == "__main__":
    main()
