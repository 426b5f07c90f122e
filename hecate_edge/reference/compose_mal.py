"""MAL composition (MATH §4.2): memory as a layer before attention.

The memory reads the block input x; its output passes the residual
z = y + x; attention reads z (its window caches z's keys and values); the
block output is p = Wo a.
"""
import numpy as np

COMPOSITION_ID = 1
NAME = "mal"
WINDOW_ENTRIES = 1
TENSORS: tuple[str, ...] = ()


def block(session, layer: int, x: np.ndarray) -> np.ndarray:
    """MATH §4.2: p = Wo SWA(z), z = memory(x) + x."""
    z = session.memory_output(layer, x) + x
    return session.attend(layer, z) @ session.output_weights(layer)
