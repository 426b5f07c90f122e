"""A process of the 2-process gloo test (tests/test_torch_training.py): joins the
group torch.multiprocessing started, trains the shared setup, rank 0 saves the weights."""
import os

import numpy as np
import torch


def setup():
    """(model config, TrainConfig, corpus) the 1-process and 2-process runs share."""
    from hecate_edge.config import ModelConfig
    from hecate_edge.data import Corpus
    from hecate_edge.train import TrainConfig

    cfg = ModelConfig(vocab=64, d_model=8, n_heads=2, window=4, n_levels=2, periods=(1, 4))
    tokens = np.random.default_rng(0).integers(0, 64, 4000).astype(np.uint32)
    return cfg, TrainConfig(steps=3, chunk=8, batch=4, lr=1e-2, burn_in=2, seed=1), Corpus("c", tokens)


def train_and_save(path: str) -> None:
    """Train setup() in this process's World and save the weights (rank 0)."""
    from hecate_edge.torch import HecateLM
    from hecate_edge.torch import distributed
    from hecate_edge.torch import train as torch_train

    torch.set_num_threads(1)
    cfg, config, corpus = setup()
    world = distributed.join("cpu")
    lm = HecateLM.from_config(cfg, seed=config.seed)
    torch_train.train(lm, [corpus], config, world, show_progress=False)
    if world.leader:
        np.savez(path, **lm.tensors())


def spawned(rank: int, size: int, port: int, path: str) -> None:
    os.environ.update(WORLD_SIZE=str(size), RANK=str(rank), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    train_and_save(path)
    from hecate_edge.torch import distributed
    distributed.leave(finished=True)
