"""cffi declarations for the C runtime, derived from the real hecate.h.

Owns turning runtime_c/include/hecate.h (installed as hecate_edge/lib/hecate.h)
into a cffi cdef string and the status code -> enum name table, so the
binding cannot drift from the header.  No MATH.md section: plumbing only.
"""

from __future__ import annotations

import re

# Macros treated as defined while reading the header: HECATE_CDEF drops the
# standard includes, HECATE_REAL is substituted textually below.
_PREDEFINED = frozenset({"HECATE_CDEF", "HECATE_REAL"})

_REAL_TYPES = {"f32": "float", "f64": "double"}

_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
_STATUS_ENUM = re.compile(r"typedef\s+enum\s+hecate_status\s*\{(.*?)\}", re.S)
_ENUMERATOR = re.compile(r"\b(HECATE_\w+)\s*=\s*(\d+)")


def _strip_comments(text: str) -> str:
    """Remove C comments, keeping line breaks so directives stay on their own lines."""
    return _COMMENT.sub(lambda m: "\n" * m.group(0).count("\n") or " ", text)


def _active_lines(text: str) -> list[str]:
    """Evaluate the header's #ifdef/#ifndef/#else/#endif and drop every
    preprocessor line; return the non-directive lines that stay active.

    Only the conditional forms hecate.h may use are supported; anything else
    (#if expressions, function-like macros) raises ValueError so a header
    change cannot silently produce a wrong binding.
    """
    defined = set(_PREDEFINED)
    stack: list[tuple[bool, bool]] = []  # (parent_active, this_branch_active)
    active = True
    kept = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped.startswith("#"):
            if active and stripped:
                kept.append(line)
            continue
        parts = stripped[1:].split()
        directive = parts[0] if parts else ""
        if directive in ("ifdef", "ifndef"):
            cond = (parts[1] in defined) == (directive == "ifdef")
            stack.append((active, cond))
            active = active and cond
        elif directive == "else":
            parent, cond = stack.pop()
            stack.append((parent, not cond))
            active = parent and not cond
        elif directive == "endif":
            parent, _ = stack.pop()
            active = parent
        elif directive == "define":
            if active:
                if "(" in parts[1]:
                    raise ValueError(f"function-like macro in hecate.h: {stripped}")
                defined.add(parts[1])
        elif directive == "include":
            if active:
                raise ValueError(f"unexpected #include in cdef mode: {stripped}")
        else:
            raise ValueError(f"unsupported directive in hecate.h: {stripped}")
    if stack:
        raise ValueError("unbalanced #if/#endif in hecate.h")
    return kept


def build_cdef(header_text: str, precision: str = "f32") -> tuple[str, dict[int, str]]:
    """Return (cdef, status_names) for one scalar build.

    cdef: the header's declarations with preprocessor lines removed and
    HECATE_REAL replaced by float ("f32") or double ("f64").
    status_names: {code: "HECATE_E_..."} from the hecate_status enum.
    """
    if precision not in _REAL_TYPES:
        raise ValueError(f"precision must be 'f32' or 'f64', not {precision!r}")
    text = _strip_comments(header_text)
    body = "\n".join(_active_lines(text))
    body = re.sub(r"\bHECATE_REAL\b", _REAL_TYPES[precision], body)
    enum = _STATUS_ENUM.search(text)
    if enum is None:
        raise ValueError("hecate.h has no 'typedef enum hecate_status { ... }'")
    names = {int(code): name for name, code in _ENUMERATOR.findall(enum.group(1))}
    return body + "\n", names


def plain_cdef(header_text: str) -> str:
    """The declarations of a header without a scalar type or status enum of
    its own (runtime_c/host/hecate_threads.h): comments and preprocessor lines
    dropped as for hecate.h."""
    return "\n".join(_active_lines(_strip_comments(header_text))) + "\n"


def read_cdef(header_path, precision: str = "f32") -> tuple[str, dict[int, str]]:
    """Read hecate.h from `header_path` and return build_cdef() of it."""
    with open(header_path, encoding="utf-8") as f:
        return build_cdef(f.read(), precision)
