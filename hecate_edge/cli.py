"""The ``hecate-edge`` command line: train, export, inspect, run, demo.

Owns argument parsing and turning library errors
into one-line messages (exit status 2). Math lives elsewhere (MATH §1-§7).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hecate_edge import __version__
from hecate_edge.argtypes import non_negative_float, positive_float
from hecate_edge.config import COMPOSITIONS
from hecate_edge.format import QUANTIZE
from hecate_edge.optim import OPTIMIZERS
from hecate_edge.reference.retention import RETENTION_IDS
from hecate_edge.reference.rules import RULES, resolve_params

EXIT_ERROR = 2


# --data names of the built-in corpora (hecate_edge.data) and the kinds each trains on
BUILTIN_DATA = {"text": ("text",), "recall": ("recall",), "mix": ("text", "recall")}
DEFAULT_VAL_FRACTION = 0.05  # held-out tail of the user's files when no --val is given


class UsageError(Exception):
    """Arguments that parse but make no sense together (reported as one line)."""


class TrainingStopped(Exception):
    """Training stopped on a non-finite step after saving what it had (one line, exit 2)."""


def file_precision(data: bytes) -> str:
    """The runtime precision a model file needs, "f32" or "f64" (the dtype of
    its first tensor); "f32" when unreadable, so the runtime reports the real
    problem."""
    from hecate_edge.format import file_dtype

    return file_dtype(data) or "f32"


def _parse_rule_params(pairs: list[str]) -> dict[str, float]:
    """{name: value} from NAME=VALUE strings; ValueError naming a malformed one."""
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise ValueError(f"--rule-param wants NAME=NUMBER, got {pair!r}")
    return out


def _parse_periods(text: str | None) -> tuple[int, ...] | None:
    """--periods "1,8" -> (1, 8); None keeps the defaults."""
    if text is None:
        return None
    try:
        return tuple(int(p) for p in text.split(","))
    except ValueError:
        raise UsageError(f"--periods takes comma-separated integers, got {text!r}") from None


def _feature_flags(args: argparse.Namespace) -> dict:
    """The on/off model features given on the command line (unset ones keep ModelConfig's default)."""
    names = ("bounded_steps", "conv_kernel", "rope", "composition")
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def _cmd_train(args: argparse.Namespace) -> None:
    from hecate_edge import train
    from hecate_edge.config import ModelConfig

    if args.steps < 1 or args.chunk < 1 or args.batch < 1 or args.burn_in < 0 or args.freq_anneal < 0:
        raise UsageError("--steps, --chunk and --batch must be >= 1, --burn-in and --freq-anneal >= 0")
    if (args.threads is not None and args.threads < 1) or args.eval_every < 0 or args.eval_tokens < 2:
        raise UsageError("--threads must be >= 1, --eval-every >= 0, --eval-tokens >= 2")
    try:
        params = resolve_params(RULES[args.rule], args.d_model, _parse_rule_params(args.rule_param))
        cfg = ModelConfig(d_model=args.d_model, n_heads=args.heads, window=args.window, rule=args.rule,
                          n_layers=args.layers, n_levels=args.levels,
                          periods=_parse_periods(args.periods), rule_params=params, retention=args.retention, retention_param=args.retention_param,
                          freq_gates=args.freq_gates, **_feature_flags(args))
    except ValueError as exc:
        raise UsageError(f"bad model shape: {exc}") from None
    config = train.TrainConfig(
        steps=args.steps, chunk=args.chunk, batch=args.batch, lr=args.lr, weight_decay=args.weight_decay,
        clip_norm=args.clip if args.clip > 0 else None, seed=args.seed, burn_in=args.burn_in,
        optimizer=args.optimizer, freq_anneal=args.freq_anneal,
    )
    if args.engine == "torch":
        from hecate_edge.nonfinite import NonFiniteTraining
        from hecate_edge.torch.cli import train_torch

        try:
            trained = train_torch(args, cfg, config, _training_data)
        except NonFiniteTraining as exc:
            raise TrainingStopped(f"training stopped at {exc}. Wrote the last good weights to {args.out}; "
                                  "a lower --lr or --clip may help") from None
        if trained is None:  # a rank other than the leader: rank 0 writes and reports
            return
    else:
        if args.device is not None:
            raise UsageError("--device needs --engine torch (the native trainer runs on the CPU)")
        if args.optimizer not in OPTIMIZERS:
            raise UsageError(f"--optimizer {args.optimizer}: the native trainer has {', '.join(sorted(OPTIMIZERS))} "
                             "(torch.optim classes need --engine torch)")
        trained = _train_native(args, cfg, config)
    model, records, config, plan = trained
    tail = records[-min(len(records), 50):]
    if tail:
        print(f"trained {len(records)} steps x {config.batch} x {config.chunk} tokens, "
              f"last {len(tail)} steps mean loss {np.mean([r['bpb'] for r in tail]):.3f} bits/byte")
    else:
        print(f"nothing left to train: the checkpoint is at step {config.steps} of {config.steps}")
    for name, corpus in plan.builtin_heldout:
        result = train.evaluate(model, corpus)
        line = f"held-out {name}: {result.bits_per_byte:.3f} bits/byte"
        if result.recall_accuracy is not None:
            line += f", recall {result.recall_bits_per_byte:.3f} bits/byte, accuracy {result.recall_accuracy:.1%}"
        print(line)
    if plan.val and not plan.builtin_heldout:  # train() scored them at its last step
        bpb = (records[-1]["val_bpb"] if records
               else train.evaluate_corpora(model, plan.val, args.eval_tokens).bits_per_byte)
        print(f"held-out ({plan.val_label}): {bpb:.3f} bits/byte over at most {args.eval_tokens:,} bytes")
    print(f"wrote {args.out}" + (f" and {args.checkpoint}" if args.checkpoint else ""))


def _train_native(args: argparse.Namespace, cfg, config):
    """(runtime Model, records, TrainConfig, _DataPlan) of the native trainer (the optimizers of
    hecate_edge.optim over the C backward); the model file written."""
    from hecate_edge import atomic, train
    from hecate_edge.nonfinite import NonFiniteTraining

    if args.resume:  # the run's own model and settings come from the checkpoint (D26)
        model, config, state = train.load_training_state(args.resume)
        print(f"resuming at step {state.step} of {config.steps} ({config.optimizer})")
    else:
        model, state = train.new_model(cfg, seed=args.seed), None
    plan = _training_data(args, config)
    try:
        records = train.train(model, plan.train, config, mix=plan.mix, log_path=args.log,
                              show_progress=not args.quiet, state=state, checkpoint=args.checkpoint,
                              checkpoint_every=args.checkpoint_every, threads=args.threads, val=plan.val,
                              eval_every=args.eval_every, eval_tokens=args.eval_tokens,
                              on_nonfinite=args.on_nonfinite)
    except NonFiniteTraining as exc:
        atomic.write_bytes(args.out, model.to_bytes())  # the last good weights: the failed step applied nothing
        kept = f"{args.out}" + (f" and {args.checkpoint}" if args.checkpoint else "")
        raise TrainingStopped(f"training stopped at {exc}. Wrote the last good weights to {kept}; "
                              "a lower --lr, --clip or a bounded rule setting may help") from None
    atomic.write_bytes(args.out, model.to_bytes())
    return model, records, config, plan


@dataclass
class _DataPlan:
    """What ``train`` reads: training streams and their weights, held-out
    streams for periodic evaluation, and the built-in held-out corpora
    scored at the end (with recall accuracy)."""

    train: list
    mix: list | None
    val: list
    val_label: str
    builtin_heldout: list


def _training_data(args: argparse.Namespace, config) -> _DataPlan:
    """--data / --val / --val-fraction as a _DataPlan: built-in names
    (text, recall, mix) keep their own held-out splits; files, folders and
    globs are the user's text, held out by --val or a --val-fraction tail."""
    from hecate_edge import data, sources

    names = [entry for entry in args.data if entry in BUILTIN_DATA]
    if names and len(names) != len(args.data):
        raise UsageError("--data takes either built-in names (text, recall, mix) or paths, not both "
                         "(write ./text for a file named text)")
    if names:
        if args.val or args.val_fraction is not None:
            raise UsageError("built-in data has its own held-out split: --val and --val-fraction are for your files")
        kinds = list(dict.fromkeys(k for name in names for k in BUILTIN_DATA[name]))
        heldout = [(kind, data.load_corpus(kind, "heldout", seed=config.seed)) for kind in kinds]
        return _DataPlan([data.load_corpus(kind, "train", seed=config.seed) for kind in kinds], None,
                         [corpus for _, corpus in heldout] if args.eval_every else [], "built-in", heldout)
    corpora = sources.load_files(args.data)
    if args.val:
        if args.val_fraction is not None:
            raise UsageError("give --val or --val-fraction, not both")
        val, label = sources.load_files(args.val, name="val"), "--val files"
    else:
        fraction = DEFAULT_VAL_FRACTION if args.val_fraction is None else args.val_fraction
        corpora, val = sources.split_tail(corpora, fraction)
        label = f"the last {fraction:.0%} of each file"
    if sum(len(c.tokens) for c in val) < 2:
        raise UsageError("the held-out data has fewer than 2 bytes: pass --val FILE or a larger --val-fraction")
    return _DataPlan(corpora, sources.size_weights(corpora, config.chunk + config.burn_in), val, label, [])


def _cmd_export(args: argparse.Namespace) -> None:
    from hecate_edge import atomic, train
    from hecate_edge import format as fmt

    source = Path(args.input)
    if source.suffix == ".npz":
        cfg, params = train.load_checkpoint(source)
    else:
        cfg, params, _ = fmt.read_model(source.read_bytes())
    if args.format == "onnx" and args.dtype != "f32":
        raise UsageError("--format onnx computes in float32: leave --dtype at f32")
    data = train.model_bytes(cfg, params, args.dtype, quantize=args.quantize)
    what = args.dtype + (f", {args.quantize} matrices" if args.quantize else "")
    if args.format == "onnx":
        from hecate_edge.onnx import export

        export(data, args.out)
        print(f"wrote {args.out} (ONNX, {what}, {Path(args.out).stat().st_size} bytes; docs/ONNX.md)")
        return
    if args.format == "c" and Path(args.out).suffix.lower() != ".c":
        raise UsageError(f"--format c writes the C source to --out and its header beside it: --out must end in .c, "
                         f"got {args.out}")
    if args.format == "c":
        from hecate_edge.c_export import write_c_array

        source, header = write_c_array(data, args.out, args.symbol)
        print(f"wrote {source} and {header} ({what}, {len(data)} bytes)")
        return
    atomic.write_bytes(args.out, data)
    print(f"wrote {args.out} ({what}, {len(data)} bytes)")


def _cmd_inspect(args: argparse.Namespace) -> None:
    from hecate_edge import format as fmt

    raw = Path(args.file).read_bytes()
    summary = fmt.describe(raw)
    print(format_description(args.file, len(raw), summary))
    # Report the first failing check in FORMAT.md order, as `run` and the C
    # reader do: size checks come before the CRC, everything else after it.
    problem, crc = summary["problem"], summary["crc"]
    if problem and problem["name"] in ("HECATE_E_FILE_TRUNCATED", "HECATE_E_FILE_SIZE"):
        raise fmt.FormatError(problem["name"], f"{args.file}: {problem['message']}")
    if not crc["ok"]:
        raise fmt.FormatError("HECATE_E_FILE_CRC", f"{args.file} is corrupt: CRC32 {crc['computed']:#010x} "
                                                   f"differs from the recorded {crc['recorded']:#010x}")
    if problem:
        raise fmt.FormatError(problem["name"], f"{args.file}: {problem['message']}")


def format_description(name: str, size: int, summary: dict) -> str:
    """The ``inspect`` report for a ``format.describe`` summary."""
    h, crc = summary["header"], summary["crc"]
    lines = [
        f"file      {name} ({size:,} bytes)",
        f"format    version {h['format_version']}, {h['n_tensors']} tensors, recorded size {h['file_size']:,}",
        f"crc32     recorded {crc['recorded']:#010x}, computed {crc['computed']:#010x}: "
        + ("ok" if crc["ok"] else "MISMATCH (corrupt file)"),
    ]
    cfg = summary["config"]
    if cfg is not None:
        lines.append("config    " + " ".join(f"{k}={v}" for k, v in cfg.items()))
    rows = summary["tensors"]
    if rows:
        n_params = sum(int(np.prod(r["shape"])) for r in rows)
        lines.append(f"tensors   {len(rows)} listed, {n_params:,} scalars")
        width = max(len(r["name"]) for r in rows)
        lines.append(f"  {'name':<{width}}  dtype  {'shape':<12}{'offset':>10}{'bytes':>10}")
        for r in rows:
            shape = "x".join(str(n) for n in r["shape"])
            lines.append(f"  {r['name']:<{width}}  {r['dtype']:<5}  {shape:<12}{r['offset']:>10}{r['bytes']:>10}")
    if summary["problem"]:
        lines.append(f"problem   {summary['problem']['name']}: {summary['problem']['message']}")
    return "\n".join(lines)


def _cmd_run(args: argparse.Namespace) -> None:
    from hecate_edge import runtime, sampler

    if args.max_tokens < 0:
        raise UsageError("--max-tokens must be >= 0")
    if not math.isfinite(args.temperature) or args.temperature < 0:
        raise UsageError("--temperature must be a finite number >= 0")
    raw = Path(args.file).read_bytes()
    model = runtime.Model(raw, precision=file_precision(raw))
    if model.info["vocab"] != 256:
        raise UsageError(f"run reads and writes bytes, but {args.file} has a vocabulary of {model.info['vocab']} tokens; "
                         "drive it from Python (hecate_edge.runtime) with its own tokens")
    out = sys.stdout.buffer

    def emit(token: int) -> None:
        out.write(bytes((token,)))
        out.flush()

    sampler.generate(model.session(), os.fsencode(args.prompt), args.max_tokens, seed=args.seed,
                     temperature=args.temperature, top_k=args.top_k, on_token=emit)
    out.write(b"\n")
    out.flush()


def _cmd_demo(args: argparse.Namespace) -> None:
    from hecate_edge import demo

    if any(value is not None and value < 1 for value in (args.steps, args.chunk, args.batch, args.threads)):
        raise UsageError("--steps, --chunk, --batch and --threads must be >= 1")
    if args.out:  # refused before a minute of training, not after
        out = Path(args.out)
        if out.is_dir() or not out.name:
            raise UsageError(f"--out {args.out} is a folder: give a file name, e.g. {out / 'demo.hct'}")
        if not out.resolve().parent.is_dir():
            raise UsageError(f"--out {args.out}: no such folder to write into")
    demo.run_demo(steps=args.steps, chunk=args.chunk, batch=args.batch, threads=args.threads, out=args.out,
                  seed=args.seed, show_progress=not args.quiet, rule=args.rule)


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``hecate-edge``."""
    parser = argparse.ArgumentParser(
        prog="hecate-edge", description="Test-time-learning sequence models on a dependency-free C runtime.")
    parser.add_argument("--version", action="version", version=f"hecate-edge {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a byte-level model on built-in data or your own files")
    p.add_argument("--out", default="model.hct", help="model file to write (default model.hct)")
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--window", type=int, default=16, help="attention window in tokens")
    p.add_argument("--rule", default="delta", choices=sorted(RULES), help="memory rule (docs/MATH.md §3)")
    p.add_argument("--composition", default=None, choices=sorted(COMPOSITIONS),
                   help="how attention and memory combine (docs/MATH.md §4; default mal)")
    p.add_argument("--conv-kernel", type=int, default=None, metavar="K",
                   help="taps of the memory's short convolution, 0 = off (docs/MATH.md §3.1; default 4)")
    p.add_argument("--rope", action=argparse.BooleanOptionalAction, default=None,
                   help="rotary positions in window attention (docs/MATH.md §2; default on)")
    p.add_argument("--layers", type=int, default=1, help="stacked blocks (docs/MATH.md §4.3; 1..4)")
    p.add_argument("--levels", type=int, default=1, help="CMS memory levels per block (docs/MATH.md §6.1; 1..4)")
    p.add_argument("--periods", metavar="C0,C1,..",
                   help="the levels' periods, first 1 (default 1,8,64,512 cut to --levels)")
    p.add_argument("--freq-gates", action="store_true",
                   help="learned frequency gates on levels >= 1 (docs/MATH.md §6.2; needs --levels >= 2)")
    p.add_argument("--freq-anneal", type=int, default=0, metavar="N",
                   help="the fixed schedule (every gate open) for the first N steps (docs/MATH.md §6.2)")
    p.add_argument("--bounded-steps", action=argparse.BooleanOptionalAction, default=None,
                   help="step gates theta = sigmoid(.) <= 1 instead of softplus (docs/MATH.md §3.1; default on)")
    p.add_argument("--rule-param", action="append", default=[], metavar="NAME=VALUE",
                   help="a rule hyper-parameter, e.g. d_hidden=32 (repeatable; docs/FORMAT.md lists them)")
    p.add_argument("--retention", choices=sorted(RETENTION_IDS),
                   help="the memory's retention (docs/MATH.md §3.8; default: the rule's own)")
    p.add_argument("--retention-param", type=float, metavar="LAMBDA_1",
                   help="elastic_net threshold scale lambda_1 (default: the rule's)")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--chunk", type=int, default=64, help="tokens per training chunk")
    p.add_argument("--lr", type=positive_float, default=3e-3)
    p.add_argument("--weight-decay", type=non_negative_float, default=0.01, help="AdamW decay on matrices")
    p.add_argument("--clip", type=non_negative_float, default=1.0, help="global grad-norm clip (0: off)")
    p.add_argument("--burn-in", type=int, default=0, help="tokens fed before each chunk without gradient")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", nargs="+", default=["text"], metavar="NAME|PATH",
                   help="built-in text, recall or mix, or your own files, folders (recursive) and globs, "
                        "read as bytes (default text)")
    p.add_argument("--val", nargs="+", metavar="PATH", help="held-out files for --data PATH (default: a tail)")
    p.add_argument("--val-fraction", type=float, metavar="F",
                   help=f"hold out the last F of each --data file (default {DEFAULT_VAL_FRACTION})")
    p.add_argument("--eval-every", type=int, default=0, metavar="N",
                   help="held-out bits/byte every N steps, in the progress line and --log (0: at the end)")
    p.add_argument("--eval-tokens", type=int, default=1 << 16, metavar="N",
                   help="bytes a held-out evaluation of your files reads at most (default 65536)")
    p.add_argument("--batch", type=int, default=1, help="chunks per step, mean gradient (default 1)")
    p.add_argument("--threads", type=int, default=None,
                   help="worker threads for the batch (default: every core the process may use); "
                   "the result does not depend on it")
    p.add_argument("--on-nonfinite", choices=("stop", "skip"), default="stop",
                   help="a step that goes NaN/Inf: stop after saving the last good weights (default), "
                        "or skip its batch (stops after 10 in a row)")
    p.add_argument("--log", help="per-step loss log (.jsonl, or .csv)")
    p.add_argument("--optimizer", default="adamw", metavar="NAME",
                   help=f"outer optimizer: {', '.join(sorted(OPTIMIZERS))} (docs/MATH.md §10; default adamw); "
                        "with --engine torch adamw, sgd or any torch.optim class name")
    p.add_argument("--engine", choices=("native", "torch"), default="native",
                   help="native: the C backward on CPU threads; torch: PyTorch autograd (pip install "
                        "'hecate-edge[torch]'; docs/TORCH.md), on --device, data-parallel under torchrun")
    p.add_argument("--device", default=None, help="with --engine torch: cpu (default), cuda or cuda:N")
    p.add_argument("--checkpoint", help="also write a training checkpoint (.npz: weights, config, optimizer, "
                                        "RNG), at the end, every --checkpoint-every steps and on Ctrl-C")
    p.add_argument("--checkpoint-every", type=int, default=0, metavar="N", help="checkpoint every N steps")
    p.add_argument("--resume", metavar="CHECKPOINT",
                   help="continue a run from its training checkpoint (its model and settings win; "
                        "pass the same --data)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("export", help="write a model file from a checkpoint (.npz) or another model file")
    p.add_argument("input", help="checkpoint .npz from 'train --checkpoint', or a model file")
    p.add_argument("--out", required=True)
    p.add_argument("--dtype", choices=("f32", "f64"), default="f32")
    p.add_argument("--quantize", choices=QUANTIZE, default=None,
                   help="store the embedding, projections and head as int8 with row scales; w8a16: the "
                        "projections and head also multiply through int16 activations (integer dot "
                        "products, docs/FORMAT.md dtype 3: fewer instructions on a Cortex-M4F)")
    p.add_argument("--format", choices=("hct", "c", "onnx"), default="hct",
                   help="c: a C array (--out NAME.c, plus NAME.h) for firmware; onnx: a stateful ONNX graph "
                        "(docs/ONNX.md; needs the [onnx] extra)")
    p.add_argument("--symbol", default="hecate_model_data", help="C array name for --format c")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("inspect", help="show a model file's header, config, tensors and CRC status")
    p.add_argument("file")
    p.set_defaults(func=_cmd_inspect)

    p = sub.add_parser("run", help="generate bytes from a prompt")
    p.add_argument("file")
    p.add_argument("--prompt", default="")
    p.add_argument("--max-tokens", type=int, default=200)
    p.add_argument("--temperature", type=float, default=0.8, help="0: greedy")
    p.add_argument("--top-k", type=int, default=0, help="sample among the k likeliest bytes (0: all)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("demo", help="train micro models for a minute or two and show what memory buys")
    p.add_argument("--steps", type=int, default=None,
                   help="steps of each training (default: 2000 recall, 1000 text)")
    p.add_argument("--chunk", type=int, default=None, help="bytes per text chunk (default 64; recall: 128)")
    p.add_argument("--batch", type=int, default=None, help="chunks per step (default 8)")
    p.add_argument("--threads", type=int, default=None,
                   help="worker threads (default: every core the process may use)")
    p.add_argument("--out", help="keep the text model here (NAME.hct) and the recall model beside it "
                   "(NAME.recall.hct); default: neither is kept")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rule", default="delta", choices=sorted(RULES), help="memory rule (docs/MATH.md §3)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_demo)

    from hecate_edge.evals.commands import add_parsers as add_eval_parsers

    add_eval_parsers(sub)
    return parser


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exception types reported as one line: file, format, value and runtime
    errors (ValueError covers bad checkpoints and configs)."""
    from hecate_edge.demo import DemoStopped

    errors: list[type[BaseException]] = [UsageError, TrainingStopped, DemoStopped, OSError, ImportError, ValueError]
    try:
        from hecate_edge.format import FormatError

        errors.append(FormatError)
    except ImportError:
        pass
    try:
        from hecate_edge.runtime import HecateError

        errors.append(HecateError)
    except ImportError:
        pass
    return tuple(errors)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``hecate-edge``; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except KeyboardInterrupt:
        print("hecate-edge: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which exited
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except _user_errors() as exc:
        message = _one_line(exc)
        source = getattr(args, "file", None) or getattr(args, "input", None)
        if source and source not in message and _about_file_contents(exc):
            message = f"{source}: {message}"
        print(f"hecate-edge {args.command}: error: {message}", file=sys.stderr)
        return EXIT_ERROR
    return 0


def _about_file_contents(exc: BaseException) -> bool:
    """True for errors about what the input file holds (format and runtime
    checks), which the message alone does not tie to a file; argument
    errors and file-system errors name their own culprit."""
    from hecate_edge.errors import HecateError
    from hecate_edge.format import FormatError

    return isinstance(exc, (FormatError, HecateError))


def _one_line(exc: BaseException) -> str:
    """An exception as one readable line (file errors name the file)."""
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or exc}"
    return " ".join(str(exc).split()) or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
