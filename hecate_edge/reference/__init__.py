"""numpy float64 reference of hecate_edge: the executable spec of docs/MATH.md.

Written for reading, not speed: one small function per equation, each citing
its MATH section.  The C runtime (runtime_c/) is tested for parity against it.
Modules: mathfn (scalar functions), attention (§2), frontend (§3.1),
rules/ (§3.2 and later rules), compositions (the registry of compose_mag,
compose_mal, compose_mac: §4), model (§1-§6, loss §5), init (§8).
"""
