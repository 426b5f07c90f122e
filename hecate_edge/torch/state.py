"""A HecateLM's session state (MATH §6) for a batch of streams: the position,
each block's attention window cache and each memory level's state; what the
C runtime's session holds, one stream per batch row."""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class State:
    """position (tokens since reset, shared by the batch); caches[layer] = (keys, values), each
    (B, m, d) oldest first, m <= window entries; levels[layer][level] a LevelState."""
    position: int
    caches: list
    levels: list

    @property
    def batch(self) -> int:
        return self.caches[0][0].shape[0]

    def detach(self) -> "State":
        """The same state cut from the autograd graph (MATH §7: a call's incoming state is a constant)."""
        return State(self.position, [(k.detach(), v.detach()) for k, v in self.caches],
                     [[s.detach() for s in layer] for layer in self.levels])

    def memory(self, level: int = 0, layer: int = 0) -> torch.Tensor:
        """(B, *state shape): level `level`'s accumulated state in block `layer` (Session.memory)."""
        return self.levels[layer][level].memory

    def memory_read(self, level: int = 0, layer: int = 0) -> torch.Tensor:
        """(B, *state shape): the state level `level`'s reads see (Session.memory_read)."""
        return self.levels[layer][level].at

    def conv_state(self, level: int = 0, layer: int = 0) -> torch.Tensor | None:
        """(B, 3, K-1, d): the level's last K-1 pre-convolution rows of k, v, q, or None without the convolution."""
        return self.levels[layer][level].conv
