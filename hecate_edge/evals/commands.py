"""The ``hecate-edge eval`` subcommands: each runs an eval and rewrites its
section of docs/EVALS.md (table, commit, command) and its plot.

Owns argument parsing and console output of the evals; the protocols live in
``run_recall`` (and the tasks in ``recall``).
"""

from __future__ import annotations

import argparse
import math

from hecate_edge.argtypes import positive_float
from hecate_edge.evals import capacity, report, run_cms, run_recall, run_text
from hecate_edge.grad_pool import usable_cores

DEFAULT_DOC = "docs/EVALS.md"


def add_parsers(sub) -> None:
    """Add ``eval`` and its subcommands to the ``hecate-edge`` subparsers ``sub``."""
    from hecate_edge.config import COMPOSITIONS
    from hecate_edge.reference.rules import RULES

    p = sub.add_parser("eval", help="run a capability eval and rewrite its table in docs/EVALS.md")
    evals = p.add_subparsers(dest="eval_name", required=True)
    r = evals.add_parser("recall", help="MQAR recall by query gap, memory on vs frozen, one model per rule")
    r.add_argument("--rules", default=",".join(sorted(RULES) + [run_recall.NO_MEMORY]),
                   help=f"comma-separated rules, '{run_recall.NO_MEMORY}' for the attention-only model "
                        "(default: all of them)")
    r.add_argument("--composition", default=None, choices=sorted(COMPOSITIONS), help="default: ModelConfig's")
    r.add_argument("--steps", type=int, default=4000, help="training steps per rule (default 4000)")
    r.add_argument("--batch", type=int, default=8)
    r.add_argument("--lr", type=positive_float, default=run_recall.LR,
                   help=f"learning rate (default {run_recall.LR:g}; another one has its own results file, plot and "
                        "section, named with _lr<LR>)")
    r.add_argument("--seed", type=int, default=0, help="the first seed (init, data, held-out episodes; default 0)")
    r.add_argument("--seeds", type=int, default=1,
                   help="seeds per rule, --seed and the next ones; with more than one the section adds a table "
                        "of the mean and range over seeds (default 1)")
    r.add_argument("--jobs", type=int, default=1,
                   help="models trained at once, each in its own process (default 1)")
    r.add_argument("--threads", type=int, default=None,
                   help="worker threads per rule (default: the cores divided among the jobs)")
    r.add_argument("--episodes", type=int, default=40, help="held-out episodes per (pairs, gap) cell")
    r.add_argument("--out", default=DEFAULT_DOC, help=f"markdown file to update (default {DEFAULT_DOC})")
    r.add_argument("--results", default=None,
                   help="JSON file the runs are merged into; the table shows every rule it holds "
                        "(default docs/evals_recall_<composition>_<steps>[_lr<LR>].json)")
    r.add_argument("--plot", default=None,
                   help="PNG plot (needs matplotlib; default docs/evals_recall_<composition>_<steps>[_lr<LR>].png)")
    r.add_argument("--quiet", action="store_true", help="no progress lines")
    r.set_defaults(func=cmd_recall)

    t = evals.add_parser("text", help="bits/byte by position in long held-out files: memory, frozen, no memory")
    t.add_argument("--rule", default="delta", choices=sorted(RULES))
    t.add_argument("--composition", default=None, choices=sorted(COMPOSITIONS), help="default: ModelConfig's")
    t.add_argument("--steps", type=int, default=3000, help="training steps per model (default 3000)")
    t.add_argument("--batch", type=int, default=8)
    t.add_argument("--chunk", type=int, default=128)
    t.add_argument("--lr", type=positive_float, default=1e-2)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=None, help="worker threads (default: every core the process may use)")
    t.add_argument("--out", default=DEFAULT_DOC, help=f"markdown file to update (default {DEFAULT_DOC})")
    t.add_argument("--plot", default="docs/evals_text.png", help="PNG plot (needs matplotlib)")
    t.add_argument("--quiet", action="store_true", help="no progress lines")
    t.set_defaults(func=cmd_text)

    c = evals.add_parser("cms", help="k = 1, 2, 4 memory levels on a three-scale stream and on long held-out text")
    c.add_argument("--levels", default="1,2,4", help="comma-separated level counts (default 1,2,4)")
    c.add_argument("--steps", type=int, default=2000, help="training steps on the stream per model (default 2000)")
    c.add_argument("--text-steps", type=int, default=2000, help="training steps on text per model (default 2000)")
    c.add_argument("--text-burn-in", type=int, default=0,
                   help="bytes fed before each text chunk, so slow levels fire in training (default 0; "
                        "a separate section)")
    c.add_argument("--batch", type=int, default=8)
    c.add_argument("--lr", type=positive_float, default=1e-2)
    c.add_argument("--seeds", type=int, default=1, help="seeds per k on the stream (default 1)")
    c.add_argument("--threads", type=int, default=None, help="worker threads (default: every core the process may use)")
    c.add_argument("--out", default=DEFAULT_DOC, help=f"markdown file to update (default {DEFAULT_DOC})")
    c.add_argument("--quiet", action="store_true", help="no progress lines")
    c.set_defaults(func=cmd_cms)

    k = evals.add_parser("capacity", help="what one pass of writes can store with ideal keys, per rule (no training)")
    k.add_argument("--rules", default=",".join(sorted(RULES)), help="comma-separated rules (default: all of them)")
    k.add_argument("--trials", type=int, default=40, help="episodes per (rule, pairs, step, key norm) cell")
    k.add_argument("--seed", type=int, default=0)
    k.add_argument("--out", default=DEFAULT_DOC, help=f"markdown file to update (default {DEFAULT_DOC})")
    k.set_defaults(func=cmd_capacity)


def _rule_list(text: str, extra: tuple[str, ...] = ()) -> list[str]:
    """The rule names of a comma-separated ``--rules`` value; ValueError for none or an unknown one
    (``extra``: other names the command admits)."""
    from hecate_edge.reference.rules import RULES

    rules = [rule.strip() for rule in text.split(",") if rule.strip()]
    unknown = [rule for rule in rules if rule not in RULES and rule not in extra]
    if unknown or not rules:
        raise ValueError(f"unknown rules {unknown} (known: {', '.join([*sorted(RULES), *extra])})")
    return rules


def cmd_recall(args: argparse.Namespace) -> None:
    """Train and score every rule of ``--rules`` (``--jobs`` at a time), merge
    each into the results file as it finishes and rewrite the section from
    every rule that file holds, then draw the plot."""
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from multiprocessing import get_context

    from hecate_edge.config import ModelConfig

    composition = args.composition or ModelConfig().composition
    section, stem = recall_names(composition, args.steps, args.lr)
    plot_path, results = args.plot or stem + ".png", args.results or stem + ".json"
    rules = _rule_list(args.rules, extra=(run_recall.NO_MEMORY,))
    if args.steps < 1 or args.batch < 1 or args.episodes < 1 or args.jobs < 1 or args.seeds < 1 or args.seed < 0:
        raise ValueError("--steps, --batch, --episodes, --seeds and --jobs must be >= 1, --seed >= 0")
    report.require_folders(out=args.out, results=results, plot=plot_path)
    made_by = report.provenance(args.out)
    models = [(rule, seed) for rule in rules for seed in range(args.seed, args.seed + args.seeds)]
    jobs = min(args.jobs, len(models))
    threads = args.threads or max(1, usable_cores() // jobs)
    settings = dict(composition=composition, steps=args.steps, batch=args.batch, lr=args.lr,
                    threads=threads, episodes=args.episodes, show_progress=not args.quiet)

    def finished(run: run_recall.RecallRun) -> None:
        # the section is rewritten after every rule: a long run shows (and keeps) its progress
        run.made_by = made_by
        runs = run_recall.load_runs(results)
        runs[run.key] = run
        run_recall.save_runs(results, runs)
        cells = ", ".join(f"gap {g}: " + "/".join(f"{run.accuracy[v][8][g]:.2f}" for v in run.accuracy)
                          for g in run_recall.GAPS)
        print(f"{run.label}: {run.train_seconds:.0f} s training; 8 pairs, memory/frozen: {cells}", flush=True)
        _write_recall(args, composition, section, plot_path, run_recall.ordered(runs))

    if jobs == 1:
        for rule, seed in models:
            finished(run_recall.run_rule(rule, seed=seed, **settings))
    else:  # spawned processes: each loads the runtime afresh, none inherits a running thread pool
        with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
            # each job's progress: a line every half minute, named by its key
            pending = [pool.submit(run_recall.run_rule, rule, seed=seed,
                                   progress_label=run_recall.run_key(rule, seed), **settings)
                       for rule, seed in models]
            print(f"training {len(models)} models, {jobs} at a time, {threads} threads each", flush=True)
            for future in as_completed(pending):
                finished(future.result())
    print(report.save_plot(run_recall.plot(run_recall.ordered(run_recall.load_runs(results)), 8), plot_path))
    print(f"wrote {args.out} and {results}")


def recall_names(composition: str, steps: int, lr: float) -> tuple[str, str]:
    """(section name, path stem of the results file and plot) of a recall budget; the
    learning rate is named only when it is not the eval's, so earlier sections and files keep theirs."""
    name = f"recall-{composition}-{steps}" + ("" if lr == run_recall.LR else f"-lr{lr:g}")
    return name, "docs/evals_" + name.replace("-", "_")


def _write_recall(args: argparse.Namespace, composition: str, section: str, plot_path: str, runs: list) -> None:
    """The recall section of ``args.out`` for the runs of the results file."""
    origins = {}
    for run in runs:
        origins.setdefault(run.made_by, []).append(run.key)
    rates = ", ".join(f"{lr:g}" for lr in sorted({run.lr for run in runs}))
    at = "" if args.lr == run_recall.LR else f", lr {args.lr:g}"
    body = [f"## Recall beyond the attention window (MQAR, {composition.upper()}, {args.steps} steps{at})", "",
            *[f"{made_by} Rows: {', '.join(rules)}.\n" for made_by, rules in sorted(origins.items())],
            f"Each rule: the default `ModelConfig(rule=..., composition={composition!r})` (d = 64, "
            f"window 16), trained {args.steps} steps x {args.batch} chunks of 128 bytes of MQAR episodes "
            f"(4, 8 or 16 pairs, gaps 0-32; loss on the recalled values only), lr {rates}; accuracy of the "
            f"recalled value over {args.episodes} held-out episodes per cell; `frozen` runs the same weights "
            "with the memory's test-time updates off; `attention only` is the delta model trained and run with "
            "its memory frozen. Task: `hecate_edge/evals/recall.py`. Training time per rule: "
            + ", ".join(f"{r.key} {r.train_seconds:.0f} s ({r.machine})" for r in runs) + ".", ""]
    body += [f"Training of `{r.key}` stopped early: {r.stopped} (scored with its last good weights)." + "\n"
             for r in runs if r.stopped]
    if any(len(mine) > 1 for mine in run_recall.by_rule(runs).values()):
        body += ["### Over seeds (8 pairs, memory on)", "",
                 "Rules trained with more than one seed (`--seeds`): the mean accuracy over seeds, the lowest "
                 "and highest in brackets, and how many seeds recall at least 0.90 at every gap from 64 on. "
                 "Learning MQAR is a plateau and a sudden drop whose step varies by seed (D38), so one run "
                 "per rule is one sample.", "", run_recall.seeds_markdown(runs, 8), ""]
    for n_pairs in run_recall.PAIR_COUNTS:
        body += [f"### {n_pairs} pairs", "", run_recall.markdown(runs, n_pairs), ""]
    body.append(f"![recall by gap]({_relative(plot_path, args.out)})")
    report.write_section(args.out, section, "\n".join(body))


def cmd_text(args: argparse.Namespace) -> None:
    """Train the memory model and the no-memory baseline, score by position, write table and plot."""
    if args.steps < 1 or args.batch < 1 or args.chunk < 1:
        raise ValueError("--steps, --batch and --chunk must be >= 1")
    report.require_folders(out=args.out, plot=args.plot)
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


def cmd_cms(args: argparse.Namespace) -> None:
    """Train every k on both tasks, rewriting the section after each."""
    from hecate_edge.evals import multiscale

    levels = [int(k) for k in args.levels.split(",") if k.strip()]
    if not levels or args.steps < 1 or args.text_steps < 1 or args.batch < 1 or args.seeds < 1 \
            or args.text_burn_in < 0:
        raise ValueError("--levels must name at least one k; --steps, --text-steps, --batch, --seeds >= 1; "
                         "--text-burn-in >= 0")
    report.require_folders(out=args.out)
    burn = args.text_burn_in
    section = "cms" if not burn else f"cms-text-burn-in-{burn}"
    made_by = report.provenance(args.out)

    def write(runs):
        title = "## More memory levels (CMS k = 1, 2, 4)" + (f", text with {burn} burn-in bytes" if burn else "")
        body = [title, "", made_by, "",
                f"The default `ModelConfig(n_levels=k)` (delta, MAL, d = 64, window 16; periods as listed). "
                f"**Stream**: vocabulary {multiscale.VOCAB}, three time scales "
                f"({', '.join(map(str, multiscale.SCALES))} tokens; `hecate_edge/evals/multiscale.py`), trained "
                f"{args.steps} steps x {args.batch} chunks of {run_cms.STREAM_CHUNK} tokens after "
                f"{run_cms.STREAM_BURN_IN} burn-in tokens, scored on {run_cms.STREAM_HELD_OUT:,} held-out tokens "
                f"in one session; the ideal predictor scores {multiscale.entropy_floor():.4f} bits/token, a "
                f"uniform guess {math.log2(multiscale.VOCAB):.4f}. **Text**: trained {args.text_steps} steps x "
                f"{args.batch} chunks of 128 bytes" + (f" (each after {burn} burn-in bytes)" if burn else "") +
                " on the standard library's sources, bits/byte by position in "
                "its held-out long modules (as in the long-context section). lr "
                f"{args.lr}. Time per k (both tasks): " + ", ".join(f"k = {r.levels} {r.seconds:.0f} s" for r in runs)
                + ".", "", run_cms.markdown(runs)]
        report.write_section(args.out, section, "\n".join(body))
        print(run_cms.markdown(runs), flush=True)

    run_cms.run(levels, steps=args.steps, text_steps=args.text_steps, batch=args.batch, lr=args.lr, seeds=args.seeds,
                threads=args.threads, show_progress=not args.quiet, on_done=write, text_burn_in=burn)
    print(f"wrote {args.out}")


def cmd_capacity(args: argparse.Namespace) -> None:
    """Probe every rule of ``--rules`` and rewrite the capacity section."""
    rules = _rule_list(args.rules)
    if args.trials < 1 or args.seed < 0:
        raise ValueError("--trials must be >= 1, --seed >= 0")
    report.require_folders(out=args.out)
    made_by = report.provenance(args.out)
    rows = []
    for rule in rules:
        rows.append(capacity.probe(rule, trials=args.trials, seed=args.seed))
        print(f"{rule}: " + ", ".join(f"{n} pairs {a:.2f}" for n, a in rows[-1].best.items()), flush=True)
    body = ["## What one pass of writes can store, with ideal keys (no training)", "", made_by, "",
            "Each rule's reference write (MATH §3) is fed N pairs of random unit keys and values, its gates "
            "at their initial values except the step, swept over "
            f"{', '.join(f'{s:g}' for s in capacity.STEPS)} (the SSM's Delta gate over "
            f"{', '.join(f'{s:g}' for s in capacity.SSM_STEPS)}), keys of norm "
            f"{' or '.join(f'{n:g}' for n in capacity.KEY_NORMS)} where the rule does not normalize them; then "
            "each key is read back and scored right when the nearest of the 26 candidate values (cosine) is the "
            "one written with it. Trellis compresses the key itself here (in a model, its level input: A10). "
            "The table holds the best over that grid: an upper bound on what one episode's "
            "writes keep, for keys as a trained front end would ideally make them. Below it, a rule cannot "
            "recall however well it is trained; above it, what a trained model misses is learning to make such "
            "keys (DECISIONS D65). Probe: `hecate_edge/evals/capacity.py`.", "",
            capacity.table(rows, args.trials)]
    report.write_section(args.out, "capacity", "\n".join(body))
    print(capacity.table(rows, args.trials))
    print(f"wrote {args.out}")


def _relative(target: str, doc: str) -> str:
    """``target`` as a link from the folder of ``doc``."""
    import os

    return os.path.relpath(target, os.path.dirname(os.path.abspath(doc)) or ".")
