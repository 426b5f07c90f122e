"""The ``hecate-edge eval`` subcommands: each runs an eval and rewrites its
section of docs/EVALS.md (table, commit, command) and its plot.

Owns argument parsing and console output of the evals; the protocols live in
``run_recall`` (and the tasks in ``recall``).
"""

from __future__ import annotations

import argparse

from hecate_edge.evals import report, run_recall, run_text

DEFAULT_DOC = "docs/EVALS.md"


def add_parsers(sub) -> None:
    """Add ``eval`` and its subcommands to the ``hecate-edge`` subparsers ``sub``."""
    from hecate_edge.config import COMPOSITIONS
    from hecate_edge.reference.rules import RULES

    p = sub.add_parser("eval", help="run a capability eval and rewrite its table in docs/EVALS.md")
    evals = p.add_subparsers(dest="eval_name", required=True)
    r = evals.add_parser("recall", help="MQAR recall by query gap, memory on vs frozen, one model per rule")
    r.add_argument("--rules", default=",".join(sorted(RULES)), help="comma-separated rules (default: all)")
    r.add_argument("--composition", default=None, choices=sorted(COMPOSITIONS), help="default: ModelConfig's")
    r.add_argument("--steps", type=int, default=1500, help="training steps per rule (default 1500)")
    r.add_argument("--batch", type=int, default=8)
    r.add_argument("--lr", type=float, default=1e-2)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--threads", type=int, default=None, help="worker threads (default: every core)")
    r.add_argument("--episodes", type=int, default=40, help="held-out episodes per (pairs, gap) cell")
    r.add_argument("--out", default=DEFAULT_DOC, help=f"markdown file to update (default {DEFAULT_DOC})")
    r.add_argument("--plot", default=None,
                   help="PNG plot (needs matplotlib; default docs/evals_recall_<composition>_<steps>.png)")
    r.add_argument("--quiet", action="store_true", help="no progress lines")
    r.set_defaults(func=cmd_recall)

    t = evals.add_parser("text", help="bits/byte by position in long held-out files: memory, frozen, no memory")
    t.add_argument("--rule", default="delta", choices=sorted(RULES))
    t.add_argument("--composition", default=None, choices=sorted(COMPOSITIONS), help="default: ModelConfig's")
    t.add_argument("--steps", type=int, default=3000, help="training steps per model (default 3000)")
    t.add_argument("--batch", type=int, default=8)
    t.add_argument("--chunk", type=int, default=128)
    t.add_argument("--lr", type=float, default=1e-2)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=None, help="worker threads (default: every core)")
    t.add_argument("--out", default=DEFAULT_DOC, help=f"markdown file to update (default {DEFAULT_DOC})")
    t.add_argument("--plot", default="docs/evals_text.png", help="PNG plot (needs matplotlib)")
    t.add_argument("--quiet", action="store_true", help="no progress lines")
    t.set_defaults(func=cmd_text)


def cmd_recall(args: argparse.Namespace) -> None:
    """Train and score every rule of ``--rules``, then write the tables and the plot."""
    from hecate_edge.reference.rules import RULES

    from hecate_edge.config import ModelConfig

    composition = args.composition or ModelConfig().composition
    plot_path = args.plot or f"docs/evals_recall_{composition}_{args.steps}.png"
    rules = [rule.strip() for rule in args.rules.split(",") if rule.strip()]
    unknown = [rule for rule in rules if rule not in RULES]
    if unknown or not rules:
        raise ValueError(f"unknown rules {unknown} (known: {', '.join(sorted(RULES))})")
    if args.steps < 1 or args.batch < 1 or args.episodes < 1:
        raise ValueError("--steps, --batch and --episodes must be >= 1")
    made_by = report.provenance(args.out)
    runs = []
    for rule in rules:  # the section is rewritten after every rule: a long run shows (and keeps) its progress
        run = run_recall.run_rule(rule, composition, steps=args.steps, batch=args.batch, lr=args.lr,
                                  seed=args.seed, threads=args.threads, episodes=args.episodes,
                                  show_progress=not args.quiet)
        runs.append(run)
        cells = ", ".join(f"gap {g}: {run.accuracy['memory'][8][g]:.2f}/{run.accuracy['frozen'][8][g]:.2f}"
                          for g in run_recall.GAPS)
        print(f"{rule}: {run.train_seconds:.0f} s training; 8 pairs, memory/frozen: {cells}", flush=True)
        _write_recall(args, composition, plot_path, made_by, runs, done=len(runs) == len(rules))
    print(report.save_plot(run_recall.plot(runs, 8), plot_path))
    print(f"wrote {args.out}")


def _write_recall(args: argparse.Namespace, composition: str, plot_path: str, made_by: str, runs: list,
                  done: bool) -> None:
    """The recall section of ``args.out`` for the rules run so far."""
    body = [f"## Recall beyond the attention window (MQAR, {composition.upper()}, {args.steps} steps)", "",
            made_by, "",
            f"Each rule: the default `ModelConfig(rule=..., composition={composition!r})` (d = 64, "
            f"window 16), trained {args.steps} steps x {args.batch} chunks of 128 bytes of MQAR episodes "
            f"(4, 8 or 16 pairs, gaps 0-32; loss on the recalled values only), lr {args.lr}; accuracy of the "
            f"recalled value over {args.episodes} held-out episodes per cell; `frozen` runs the same weights "
            "with the memory's test-time updates off. Task: `hecate_edge/evals/recall.py`. Training time per "
            "rule (2 threads): " + ", ".join(f"{r.rule} {r.train_seconds:.0f} s" for r in runs) + ".", ""]
    if not done:
        body += ["(in progress: the rules run so far)", ""]
    for n_pairs in run_recall.PAIR_COUNTS:
        body += [f"### {n_pairs} pairs", "", run_recall.markdown(runs, n_pairs), ""]
    body.append(f"![recall by gap]({_relative(plot_path, args.out)})")
    report.write_section(args.out, f"recall-{composition}-{args.steps}", "\n".join(body))


def cmd_text(args: argparse.Namespace) -> None:
    """Train the memory model and the no-memory baseline, score by position, write table and plot."""
    if args.steps < 1 or args.batch < 1 or args.chunk < 1:
        raise ValueError("--steps, --batch and --chunk must be >= 1")
    made_by = report.provenance(args.out)
    result = run_text.run(args.rule, args.composition, steps=args.steps, batch=args.batch, chunk=args.chunk,
                          lr=args.lr, seed=args.seed, threads=args.threads, show_progress=not args.quiet)
    cfg = result.config
    body = ["## Long context: bits/byte by position in held-out source files", "", made_by, "",
            f"Model: the default `ModelConfig(rule={args.rule!r})` ({cfg['composition'].upper()}, d = "
            f"{cfg['d_model']}, window {cfg['window']}). Each model trained {args.steps} steps x {args.batch} "
            f"chunks of {args.chunk} bytes (lr {args.lr}) on the Python standard library's sources; scored on "
            "the first 16 KiB of its long held-out modules (`hecate_edge/evals/longtext.py`), each from a "
            f"fresh session. Training took {result.seconds['memory']:.0f} s (memory) and "
            f"{result.seconds['no-memory']:.0f} s (no memory).", "", run_text.markdown(result), "",
            f"![bits by position]({_relative(args.plot, args.out)})"]
    report.write_section(args.out, "text", "\n".join(body))
    print(run_text.markdown(result))
    print(report.save_plot(run_text.plot(result), args.plot))
    print(f"wrote {args.out}")


def _relative(target: str, doc: str) -> str:
    """``target`` as a link from the folder of ``doc``."""
    import os

    return os.path.relpath(target, os.path.dirname(os.path.abspath(doc)) or ".")
