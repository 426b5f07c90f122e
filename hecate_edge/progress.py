"""A tiny dependency-free progress bar for long work (training, evaluation).

Owns terminal progress output only: writes to stderr, shows step/total, rate,
ETA and free-form fields such as the loss. Implements no MATH.md section.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Progress of ``total`` steps, drawn on one line of ``stream`` (stderr).

    Quiet when ``quiet`` is True. On a terminal the line is redrawn in
    place; on anything else (a log file, a pipe, CI, a notebook's captured
    output) whole lines are printed at most every ``log_interval`` seconds,
    so long work never looks dead; ``lines=True`` prints such lines on a
    terminal too (several workers sharing one). Use as a context manager or call
    :meth:`close` to finish the line::

        with Progress(1000, "train") as bar:
            for step in range(1000):
                bar.update(loss=2.5)
    """

    def __init__(
        self,
        total: int,
        desc: str = "",
        stream: TextIO | None = None,
        quiet: bool = False,
        unit: str = "step",
        width: int = 24,
        redraw_interval: float = 0.1,
        log_interval: float = 5.0,
        lines: bool = False,
    ):
        self.total = max(int(total), 0)
        self.desc = desc
        self.stream = stream if stream is not None else sys.stderr
        self.unit = unit
        self.width = width
        self.count = 0
        self.fields: dict[str, object] = {}
        self._tty = _is_tty(self.stream) and not lines  # lines: whole lines even on a terminal
        self.enabled = not quiet
        self._interval = redraw_interval if self._tty else log_interval
        self._start = time.monotonic()
        self._last_draw = float("-inf")
        self._drawn_count = -1
        self._closed = False

    def update(self, n: int = 1, **fields: object) -> None:
        """Advance by ``n`` steps and set display fields (e.g. ``loss=2.31``)."""
        self.count += n
        self.fields.update(fields)
        now = time.monotonic()
        if self.enabled and (now - self._last_draw >= self._interval or self.count >= self.total):
            self._draw(now)

    def close(self) -> None:
        """Draw the final state and end the line (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self.enabled:
            if self._tty or self._drawn_count != self.count:
                self._draw(time.monotonic())
            if self._tty:
                self.stream.write("\n")
                self.stream.flush()

    def render(self, now: float | None = None) -> str:
        """The status line (without carriage return or newline)."""
        elapsed = (time.monotonic() if now is None else now) - self._start
        rate = self.count / elapsed if elapsed > 0 else 0.0
        parts = [self.desc] if self.desc else []
        if self.total:
            done = min(self.count / self.total, 1.0)
            filled = int(round(done * self.width))
            parts.append("[" + "#" * filled + "-" * (self.width - filled) + "]")
            parts.append(f"{self.count}/{self.total}")
            eta = (self.total - self.count) / rate if rate > 0 else float("inf")
            parts.append(f"{rate:.1f} {self.unit}/s")
            parts.append(f"ETA {_clock(eta)}" if self.count < self.total else f"in {_clock(elapsed)}")
        else:
            parts.append(f"{self.count} {self.unit}s {rate:.1f} {self.unit}/s")
        for key, value in self.fields.items():
            parts.append(f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}")
        return " ".join(parts)

    def _draw(self, now: float) -> None:
        self._last_draw = now
        self._drawn_count = self.count
        line = self.render(now)
        if self._tty:
            self.stream.write("\r" + line + "\x1b[K")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _is_tty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _clock(seconds: float) -> str:
    """Seconds as ``m:ss`` or ``h:mm:ss`` ("?" when unknown)."""
    if seconds != seconds or seconds == float("inf"):
        return "?"
    seconds = int(seconds + 0.5)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
