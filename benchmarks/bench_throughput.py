"""Throughput sweep: every workload of conftest.WORKLOADS x every implementation below.

Owns the implementation registry; each benchmark times one call over the 16-token
chunk (forward = MATH §1-§5, train = §1-§5 plus the §7 backward) and reports tok/s.
"""
from typing import Callable, NamedTuple

import pytest
from conftest import CHUNK, Workload, chunk_cross_entropy, workload_model_bytes, workload_params

from hecate_edge.reference.model import ReferenceSession
from hecate_edge.runtime import Model


class Implementation(NamedTuple):
    """name; kind ("forward" or "train"); build(workload, tokens, targets) -> call,
    a no-argument function doing CHUNK tokens of work per call."""
    name: str
    kind: str
    build: Callable


def _c_process(workload: Workload, tokens, targets):
    session = Model(workload_model_bytes(workload)).session(max_chunk=CHUNK)

    def call():
        return chunk_cross_entropy(session.process(tokens), targets)
    return call


def _c_step(workload: Workload, tokens, targets):
    session = Model(workload_model_bytes(workload)).session(max_chunk=CHUNK)
    token_list = [int(t) for t in tokens]

    def call():
        return [session.step(t) for t in token_list]
    return call


def _c_train(workload: Workload, tokens, targets):
    session = Model(workload_model_bytes(workload)).session(max_chunk=CHUNK,
                                                            max_train_tokens=CHUNK)

    def call():
        return session.train_chunk(tokens, targets)
    return call


def _numpy_reference(workload: Workload, tokens, targets):
    session = ReferenceSession(workload.config(), workload_params(workload))
    token_list = [int(t) for t in tokens]

    def call():
        return chunk_cross_entropy(session.process(token_list), targets)
    return call


IMPLEMENTATIONS = [
    Implementation("c_process", "forward", _c_process),
    Implementation("c_step", "forward", _c_step),
    Implementation("c_train_chunk", "train", _c_train),
    Implementation("numpy_reference", "forward", _numpy_reference),
]


@pytest.mark.parametrize("impl", IMPLEMENTATIONS, ids=lambda i: i.name)
def bench_throughput(benchmark, workload, impl, chunk):
    """Time one call (CHUNK tokens) of `impl` on `workload`, streaming: the session
    keeps its state across calls, as a deployed model does."""
    tokens, targets = chunk
    call = impl.build(workload, tokens, targets)
    call()  # fill the attention window before timing
    benchmark.group = workload.group
    benchmark.extra_info.update(implementation=impl.name, kind=impl.kind,
                                d_model=workload.d_model, rule=workload.rule, tokens_per_call=CHUNK)
    benchmark(call)
    if benchmark.stats is not None:  # None under --benchmark-disable
        benchmark.extra_info["tok_per_s"] = CHUNK / benchmark.stats.stats.mean
