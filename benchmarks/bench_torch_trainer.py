"""Training throughput of --engine torch against the native trainer (issue #18):
whole optimizer steps of the default model (MAL, delta, convolution, rotary
positions, bounded steps) at d = 64, 128, 256 (heads d/16), batch 64 chunks
of 64 bytes, on built-in text.  The native trainer runs one worker thread
(its single-core rate); the torch engine runs on every device torch sees
here (cpu: one thread; cuda: the CUDA kernels where they run the memory,
d <= 128, else the torch path; each step eager or from a CUDA graph; each
GPU round includes the graph's capture).  Results: benchmarks/RESULTS.md section 7."""
import pytest

from hecate_edge import train
from hecate_edge.config import ModelConfig
from hecate_edge.data import load_corpus

BATCH, CHUNK = 64, 64
WIDTHS = (64, 128, 256)


def _steps(d: int) -> int:
    return 2 if d >= 256 else 4


@pytest.fixture(scope="module")
def corpus():
    return load_corpus("text", "train")


def _cfg(d: int) -> ModelConfig:
    return ModelConfig(d_model=d, n_heads=d // 16)


def _record(benchmark, steps: int) -> None:
    if benchmark.stats is not None:  # None under --benchmark-disable
        benchmark.extra_info["tok_per_s"] = steps * BATCH * CHUNK / benchmark.stats.stats.mean


@pytest.mark.parametrize("d", WIDTHS)
def bench_native_trainer(benchmark, corpus, d):
    """The native trainer (C backward, numpy AdamW) on one core."""
    config = train.TrainConfig(steps=_steps(d), chunk=CHUNK, batch=BATCH)
    benchmark.group = f"train d={d} batch {BATCH}x{CHUNK}"
    benchmark.extra_info.update(engine="native", threads=1)
    benchmark.pedantic(lambda: train.train(train.new_model(_cfg(d)), corpus, config, show_progress=False, threads=1),
                       rounds=2, warmup_rounds=0)
    _record(benchmark, config.steps)


@pytest.mark.parametrize("d", WIDTHS)
@pytest.mark.parametrize("mode", ["cpu", "cuda-eager", "cuda-graph"])
def bench_torch_trainer(benchmark, corpus, d, mode):
    """--engine torch on the CPU (one thread) or the GPU, each step queued op by op (eager) or
    replayed from a CUDA graph (hecate_edge.torch.graphed, the default there)."""
    torch = pytest.importorskip("torch")
    device = mode.split("-")[0]
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    from hecate_edge.torch import HecateLM
    from hecate_edge.torch import distributed
    from hecate_edge.torch import train as torch_train

    torch.set_num_threads(1)
    world = distributed.World(0, 1, torch.device(device))
    steps = _steps(d) if device == "cpu" else 60
    config = train.TrainConfig(steps=steps, chunk=CHUNK, batch=BATCH)
    benchmark.group = f"train d={d} batch {BATCH}x{CHUNK}"
    benchmark.extra_info.update(engine="torch", device=device, mode=mode)

    def run():
        lm = HecateLM.from_config(_cfg(d)).to(world.device)
        torch_train.train(lm, [corpus], config, world, show_progress=False, cuda_graph=mode == "cuda-graph")
        if device == "cuda":
            torch.cuda.synchronize()
    benchmark.pedantic(run, rounds=2, warmup_rounds=1 if device == "cuda" else 0)
    _record(benchmark, steps)
