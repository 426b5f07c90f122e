#!/usr/bin/env python3
"""bench_table.py — turn a pytest-benchmark JSON (--benchmark-json) of the
benchmarks/ throughput sweep into a markdown table: per group and implementation,
mean and best (min) us/call, tok/s from each, and ratios against the numpy reference
(or --baseline IMPL, e.g. onnxruntime) and the NL_Hecate figures.

usage: python tools/bench_table.py RESULTS.json [--title TEXT] [--baseline IMPL]
"""
import argparse
import json
import re
import sys

REFERENCE_IMPL = "numpy_reference"
# Published NL_Hecate edge figures (16-token chunks), as tok/s per d_model.
NL_HECATE_FORWARD_MS_PER_CHUNK = {64: 1.22, 128: 5.64, 256: 21.5}
NL_HECATE_CHUNK = 16
NL_HECATE_TOK_PER_S = {
    "forward": {d: NL_HECATE_CHUNK / (ms / 1000) for d, ms in NL_HECATE_FORWARD_MS_PER_CHUNK.items()},
    "train": {64: 6300.0, 128: 1360.0},
}


def _d_model(bench: dict) -> int:
    """d_model from extra_info, else parsed from a group named 'd=<n>'."""
    extra = bench.get("extra_info", {})
    if "d_model" in extra:
        return int(extra["d_model"])
    match = re.search(r"d=(\d+)", bench.get("group") or "")
    return int(match.group(1)) if match else 0


def rows_from_json(data: dict) -> list[dict]:
    """One row per benchmark: group, d, implementation, kind, mean_us, min_us, tok_s
    (tokens per call / mean time per call) and best_tok_s (the same from the fastest
    call: the least disturbed figure on a shared machine)."""
    rows = []
    for bench in data["benchmarks"]:
        extra = bench.get("extra_info", {})
        mean_s = bench["stats"]["mean"]
        tokens = extra.get("tokens_per_call", NL_HECATE_CHUNK)
        rows.append({
            "group": bench.get("group") or "",
            "d": _d_model(bench),
            "impl": extra.get("implementation", bench["name"]),
            "kind": extra.get("kind", "forward"),
            "rule": extra.get("rule", "delta"),
            "mean_us": mean_s * 1e6,
            "min_us": bench["stats"]["min"] * 1e6,
            "tok_s": tokens / mean_s,
            "best_tok_s": tokens / bench["stats"]["min"],
        })
    rows.sort(key=lambda r: (r["d"], r["group"], r["impl"]))
    return rows


def _ratio(value: float, base: float | None) -> str:
    return f"{value / base:.2f}x" if base else "-"


def markdown_table(rows: list[dict], baseline: str = REFERENCE_IMPL) -> str:
    """Markdown table; ratios are mean tok/s of the row over tok/s of the baseline
    implementation of its group (>1 means faster).  With the numpy reference as
    the baseline (the sweep of the NL_Hecate workload) a last column compares with
    NL_Hecate: its forward figure for forward rows, forward+backward for train rows."""
    reference = {r["group"]: r["tok_s"] for r in rows if r["impl"] == baseline}
    label = "numpy reference" if baseline == REFERENCE_IMPL else baseline
    versus_nl_hecate = baseline == REFERENCE_IMPL
    lines = ["| group | implementation | kind | mean us/call | min us/call | tok/s (mean) "
             f"| tok/s (min) | vs {label} |" + (" vs NL_Hecate |" if versus_nl_hecate else ""),
             "|---|---|---|---:|---:|---:|---:|---:|" + ("---:|" if versus_nl_hecate else "")]
    for r in rows:
        vs_ref = "-" if r["impl"] == baseline else _ratio(r["tok_s"], reference.get(r["group"]))
        line = (f"| {r['group']} | {r['impl']} | {r['kind']} | {r['mean_us']:,.1f} "
                f"| {r['min_us']:,.1f} | {r['tok_s']:,.0f} | {r['best_tok_s']:,.0f} | {vs_ref} |")
        if versus_nl_hecate:
            # NL_Hecate's published figures are for the delta rule only
            nl_hecate = NL_HECATE_TOK_PER_S.get(r["kind"], {}).get(r["d"]) if r["rule"] == "delta" else None
            line += f" {_ratio(r['tok_s'], nl_hecate)} |"
        lines.append(line)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("json_path", help="file written by pytest --benchmark-json")
    parser.add_argument("--title", help="markdown heading printed above the table")
    parser.add_argument("--baseline", default=REFERENCE_IMPL,
                        help="implementation the ratio column divides by, per group (default: the numpy reference)")
    args = parser.parse_args(argv)
    with open(args.json_path, encoding="utf-8") as fh:
        data = json.load(fh)
    if args.title:
        print(f"### {args.title}\n")
    print(markdown_table(rows_from_json(data), args.baseline))
    return 0


if __name__ == "__main__":
    sys.exit(main())
