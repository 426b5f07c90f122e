"""One session per core: N spawned processes, each stepping its own Session.

Owns the multiprocess side of bench_serving.py.  Each process opens the model
from bytes, warms up, then runs SLICES timed slices of `steps` Session.step
calls; a barrier lines the slices up so that a slice's aggregate tok/s is
N * steps over the span from the first start to the last end.  Separate
processes hold separate interpreters, so no GIL is shared.
"""
import multiprocessing
import time

SLICES = 5
_WARMUP_STEPS = 256
_RESULT_TIMEOUT_S = 300  # a worker that died never reports: fail instead of hanging


def token_at(index: int) -> int:
    """The byte fed at stream index `index` (any bytes do: a step costs the same for each)."""
    return (7 * index + 1) % 256


def _worker(model_bytes: bytes, steps: int, barrier, results) -> None:
    from hecate_edge.runtime import Model

    session = Model(model_bytes).session()
    tokens = [token_at(i) for i in range(steps)]
    for token in tokens[:_WARMUP_STEPS]:
        session.step(token)
    spans = []
    for _ in range(SLICES):
        barrier.wait()
        start = time.perf_counter()
        for token in tokens:
            session.step(token)
        spans.append((start, time.perf_counter()))
    results.put(spans)


def aggregate_tok_per_s(model_bytes: bytes, n_processes: int, steps: int) -> list[float]:
    """Aggregate tok/s of each slice over n_processes spawned sessions stepping
    `steps` tokens apiece (perf_counter is system-wide on Linux, so spans compare
    across processes)."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(n_processes)
    results = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(model_bytes, steps, barrier, results))
             for _ in range(n_processes)]
    for proc in procs:
        proc.start()
    per_process = [results.get(timeout=_RESULT_TIMEOUT_S) for _ in procs]
    for proc in procs:
        proc.join()
        if proc.exitcode != 0:
            raise RuntimeError(f"serving worker exited with {proc.exitcode}")
    return [n_processes * steps / (max(spans[s][1] for spans in per_process)
                                   - min(spans[s][0] for spans in per_process))
            for s in range(SLICES)]
