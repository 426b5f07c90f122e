#!/usr/bin/env python3
"""serving_table.py — turn the pytest-benchmark JSON of benchmarks/bench_serving.py
into two markdown tables: per-token step latency (min / p50 / p99 us) by width,
implementation and context position, and aggregate tok/s (min / p50 / max over
the timed slices) by width and process count.

usage: python tools/serving_table.py serving.json
"""
import argparse
import json
import statistics
import sys


def _position(position: int) -> str:
    return f"{position // 1024}k" if position else "0"


def latency_table(benches: list[dict]) -> str:
    """One row per (d, implementation, position); `p50 / p50 at 0` is the growth
    with context (1.00 is flat), `reference p50 / p50` the C runtime's lead over
    the numpy reference at the same position."""
    rows = sorted((b["extra_info"] for b in benches if b["extra_info"].get("kind") == "latency"),
                  key=lambda e: (e["d_model"], e["implementation"], e["position"]))
    p50 = {(e["d_model"], e["implementation"], e["position"]): e["p50_us"] for e in rows}
    lines = ["| d | implementation | position | calls | min us | p50 us | p99 us "
             "| p50 / p50 at 0 | reference p50 / p50 |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for e in rows:
        start = p50.get((e["d_model"], e["implementation"], 0))
        reference = p50.get((e["d_model"], "numpy_reference", e["position"]))
        growth = f"{e['p50_us'] / start:.2f}" if start else "-"
        lead = f"{reference / e['p50_us']:.1f}x" if reference and e["implementation"] != "numpy_reference" else "-"
        lines.append(f"| {e['d_model']} | {e['implementation']} | {_position(e['position'])} | {e['calls']} "
                     f"| {e['min_us']:,.1f} | {e['p50_us']:,.1f} | {e['p99_us']:,.1f} | {growth} | {lead} |")
    return "\n".join(lines)


def aggregate_table(benches: list[dict]) -> str:
    """One row per (d, processes): total tok/s over all processes per timed slice."""
    rows = sorted((b["extra_info"] for b in benches if b["extra_info"].get("kind") == "aggregate"),
                  key=lambda e: (e["d_model"], e["processes"]))
    single = {e["d_model"]: statistics.median(e["tok_per_s"]) for e in rows if e["processes"] == 1}
    lines = ["| d | processes | steps per process per slice | slices | tok/s min | tok/s p50 "
             "| tok/s max | p50 / 1 process |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for e in rows:
        median = statistics.median(e["tok_per_s"])
        base = single.get(e["d_model"])
        lines.append(f"| {e['d_model']} | {e['processes']} | {e['steps_per_process']:,} | {e['slices']} "
                     f"| {min(e['tok_per_s']):,.0f} | {median:,.0f} | {max(e['tok_per_s']):,.0f} "
                     f"| {f'{median / base:.2f}' if base else '-'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("json_path", help="file written by pytest --benchmark-json")
    args = parser.parse_args(argv)
    with open(args.json_path, encoding="utf-8") as fh:
        benches = json.load(fh)["benchmarks"]
    print(latency_table(benches))
    print()
    print(aggregate_table(benches))
    return 0


if __name__ == "__main__":
    sys.exit(main())
