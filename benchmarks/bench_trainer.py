"""Trainer throughput: whole optimizer steps of ``hecate_edge.train.train`` at
d = 64, batch 8 chunks of 64 bytes, by worker-thread count.

Owns the trainer sweep (bench_throughput.py times single calls). Each round is
STEPS steps on built-in text: sampling, the batch's chunks on the worker pool
(MATH §7 backward in C), the fixed-order gradient sum and the AdamW update.
"""
import pytest

from hecate_edge import train
from hecate_edge.config import ModelConfig
from hecate_edge.data import load_corpus

STEPS = 20
BATCH = 8
CHUNK = 64


@pytest.fixture(scope="module")
def corpus():
    return load_corpus("text", "train")


@pytest.mark.parametrize("threads", [1, 2])
def bench_trainer(benchmark, corpus, threads):
    """STEPS training steps of the d = 64 micro model on ``threads`` workers."""
    model = train.new_model(ModelConfig(), seed=0)
    config = train.TrainConfig(steps=STEPS, chunk=CHUNK, batch=BATCH)
    benchmark.group = f"trainer d=64 batch {BATCH}"
    benchmark.extra_info.update(threads=threads, tokens_per_call=STEPS * BATCH * CHUNK)
    benchmark.pedantic(train.train, args=(model, corpus, config),
                       kwargs={"show_progress": False, "threads": threads}, rounds=5, warmup_rounds=1)
    if benchmark.stats is not None:  # None under --benchmark-disable
        benchmark.extra_info["tok_per_s"] = STEPS * BATCH * CHUNK / benchmark.stats.stats.mean
