"""Where eval results go: a marked section of docs/EVALS.md, with the commit
and the command that regenerates it, and an optional PNG plot.

Owns the section replacement and the provenance line; the evals own their
tables. matplotlib is optional (the ``plots`` extra): without it the plot is
skipped with a note, the table is still written.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

from hecate_edge import atomic


def provenance(doc: str | Path, argv: list[str] | None = None) -> str:
    """One markdown line: the commit of the working tree and the command. Take
    it when the eval starts (a commit made while it runs is not what ran);
    changes to ``doc``, the file the eval writes, do not count as local ones."""
    argv = sys.argv if argv is None else argv
    command = "hecate-edge " + " ".join(shlex.quote(a) for a in argv[1:]) if argv else "?"
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                check=True, cwd=Path(__file__).parent).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ":/",
                                f":(exclude){Path(doc).resolve()}"], capture_output=True, text=True,
                               cwd=Path(__file__).parent).stdout.strip()
        commit += " (with local changes)" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown (not a git checkout)"
    return f"Commit `{commit}`; regenerate with `{command}`."


def require_folders(**outputs: str | Path | None) -> None:
    """Refuse, before any training, outputs whose folder does not exist (the
    defaults are under docs/, so outside the repository an eval would train
    for minutes and then fail to write). ``outputs``: option name -> path."""
    missing = {name: Path(path) for name, path in outputs.items()
               if path is not None and not Path(path).resolve().parent.is_dir()}
    if missing:
        where = ", ".join(f"--{name.replace('_', '-')} {path}" for name, path in missing.items())
        raise ValueError(f"no folder to write {where} into: run from the repository root, or pass "
                         f"{', '.join('--' + name.replace('_', '-') for name in outputs)} with paths that exist")


def write_section(path: str | Path, name: str, body: str) -> None:
    """Replace the section between ``<!-- name:begin -->`` and
    ``<!-- name:end -->`` of ``path`` with ``body`` (appended at the end,
    markers included, when the file or the section does not exist yet)."""
    path = Path(path)
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    text = path.read_text() if path.exists() else "# Evaluations\n"
    block = f"{begin}\n{body.rstrip()}\n{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    atomic.write_text(path, text)


def save_plot(draw, path: str | Path) -> str:
    """Call ``draw(pyplot)`` and save the figure to ``path``; returns a note
    for the console (the path, or why nothing was drawn)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot
    except ImportError:
        return "no plot: matplotlib is not installed (pip install 'hecate-edge[plots]')"
    figure = draw(pyplot)
    with atomic.atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    pyplot.close(figure)
    return f"plot: {path}"
