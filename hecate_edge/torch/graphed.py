"""A training step's forward and backward as one CUDA graph (docs/TORCH.md,
"CUDA graphs"): captured at the first step, then replayed with each step's
tokens copied into its input.  The host then queues one graph a step instead
of some 300 small kernels, the cost that bound the GPU step (RESULTS §7).
The graph runs the same kernels on the same data as the eager step, so the
loss and gradients are the eager ones.

It applies where every step runs the same kernels on tensors of the same
shapes: one process on a CUDA device (DDP's hooks are not captured) and no CMS
level that skips steps or holds its gradient (every period 1, MATH §6.1).
The memory recurrence's kernels are queued on torch's stream with no sync
(hecate_cuda_rule_*_async), which is what lets the graph hold them."""
from __future__ import annotations

from typing import Callable

import torch

WARMUP = 2  # eager runs on a side stream before the capture: lazy setup (cuBLAS, autograd) stays out of it


def applies(lm, device: torch.device) -> bool:
    """Whether GraphedStep can run `lm`'s training steps on `device`."""
    cfg = lm.config
    return (device.type == "cuda" and not torch.distributed.is_initialized()
            and all(period == 1 for period in cfg.periods))


class GraphedStep:
    """loss_of(rows) and its backward, replayed from a CUDA graph; each call leaves the gradients
    in the parameters' .grad (tensors the graph owns: valid until the next call) and returns the loss."""

    def __init__(self, loss_of: Callable[[torch.Tensor], torch.Tensor], params):
        self._loss_of = loss_of
        self._params = list(params)
        self._graph = None

    def __call__(self, rows: torch.Tensor) -> torch.Tensor:
        if self._graph is None:
            self._capture(rows)
        self._rows.copy_(rows)
        self._graph.replay()
        for param, grad in zip(self._params, self._grads):
            param.grad = grad
        return self._loss

    def _forget_grads(self) -> None:
        for param in self._params:
            param.grad = None

    def _capture(self, rows: torch.Tensor) -> None:
        """The recipe of torch.cuda.graph's documentation: warm up on a side stream, capture from
        empty gradients (so the backward writes them, not adds to them)."""
        self._rows = rows.clone()
        main = torch.cuda.current_stream(rows.device)
        side = torch.cuda.Stream(rows.device)
        side.wait_stream(main)
        with torch.cuda.stream(side):
            for _ in range(WARMUP):
                self._forget_grads()
                self._loss_of(self._rows).backward()
        main.wait_stream(side)
        self._forget_grads()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            loss = self._loss_of(self._rows)
            loss.backward()
        self._loss = loss.detach()  # the graph's output memory; the autograd graph of the capture is let go
        self._grads = [param.grad for param in self._params]
        self._graph = graph
