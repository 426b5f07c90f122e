"""Serving benchmark (issue #19): per-token latency vs context length, and
aggregate tok/s with one session per core.

Owns the serving workloads: the sweep's delta-rule model (conftest.Workload) at
d = 64 and 128.  Latency: a session is brought to each context position with
`process` in big chunks, then single `step` calls are timed one by one
(perf_counter_ns; min / p50 / p99 go to extra_info), the C runtime (at 0, 16k,
64k) beside the numpy reference (at 0, 16k) in the same run.  A recurrent
model's step should not grow with the position.  Aggregate: serving_workers.py.
Table: python ../tools/serving_table.py serving.json
"""
import os
import time
from typing import Callable, NamedTuple

import numpy as np
import pytest
from conftest import Workload, workload_model_bytes, workload_params
from serving_workers import SLICES, aggregate_tok_per_s, token_at

from hecate_edge.reference.model import ReferenceSession
from hecate_edge.runtime import Model

WIDTHS = (64, 128)
_FILL_CHUNK = 4096                # tokens per process call while bringing a session forward
AGGREGATE_STEPS = {64: 20_000, 128: 8_000}   # steps per process per timed slice


class Implementation(NamedTuple):
    """name; open(workload) -> a session with step, process and reset; calls:
    timed steps per position; positions measured.  The reference does fewer of
    both: reaching 64k costs a minute of numpy per width on a loaded 2-core VM."""
    name: str
    open: Callable
    calls: int
    positions: tuple[int, ...]


def _label(position: int) -> str:
    return f"{position // 1024}k" if position else "0"


def _c_session(workload: Workload):
    return Model(workload_model_bytes(workload)).session()


def _reference_session(workload: Workload):
    return ReferenceSession(workload.config(), workload_params(workload))


IMPLEMENTATIONS = [
    Implementation("c_step", _c_session, 1000, (0, 16_384, 65_536)),
    Implementation("numpy_reference", _reference_session, 200, (0, 16_384)),
]
# (d_model, implementation, position of the first timed step), each stream's positions ascending
LATENCY_CASES = [pytest.param(d, impl, position, id=f"d={d}-{impl.name}-{_label(position)}")
                 for d in WIDTHS for impl in IMPLEMENTATIONS for position in impl.positions]

_sessions: dict[tuple[str, int], object] = {}


def _session_at(impl: Implementation, d_model: int, position: int):
    """The (impl, d_model) session, advanced to `position` (reset first if past it):
    the positions of one stream run in increasing order, so it is filled once."""
    key = (impl.name, d_model)
    if key not in _sessions:
        _sessions[key] = impl.open(Workload(d_model))
    session = _sessions[key]
    if session.position > position:
        session.reset()
    while session.position < position:
        start = session.position
        count = min(_FILL_CHUNK, position - start)
        session.process([token_at(start + i) for i in range(count)])
    return session


@pytest.mark.parametrize("d_model, impl, position", LATENCY_CASES)
def bench_step_latency(benchmark, d_model, impl, position):
    """impl.calls single-token steps from `position` on, each timed alone."""
    session = _session_at(impl, d_model, position)
    tokens = iter([token_at(position + i) for i in range(impl.calls)])
    durations_ns = []

    def timed_step():
        token = next(tokens)
        start = time.perf_counter_ns()
        session.step(token)
        durations_ns.append(time.perf_counter_ns() - start)

    benchmark.group = f"d={d_model} step latency"
    benchmark.pedantic(timed_step, rounds=impl.calls, iterations=1)
    p50, p99 = np.percentile(durations_ns, [50, 99]) / 1000
    benchmark.extra_info.update(kind="latency", implementation=impl.name, d_model=d_model,
                                position=position, calls=len(durations_ns),
                                min_us=min(durations_ns) / 1000, p50_us=p50, p99_us=p99)


@pytest.mark.parametrize("n_processes", sorted({1, os.cpu_count() or 1}))
@pytest.mark.parametrize("d_model", WIDTHS, ids=lambda d: f"d={d}")
def bench_aggregate(benchmark, d_model, n_processes):
    """n_processes spawned processes, one session each; the benchmark's own time
    is the whole run (spawn included), the tok/s in extra_info the timed slices'."""
    steps = AGGREGATE_STEPS[d_model]
    benchmark.group = f"d={d_model} aggregate"
    per_slice = benchmark.pedantic(aggregate_tok_per_s, rounds=1, iterations=1,
                                   args=(workload_model_bytes(Workload(d_model)), n_processes, steps))
    benchmark.extra_info.update(kind="aggregate", implementation="c_step", d_model=d_model,
                                processes=n_processes, steps_per_process=steps, slices=SLICES,
                                tok_per_s=sorted(per_slice))
