"""MAG composition and LM head (MATH §4): memory output gates attention, then Wo and head.

No residual path, no layer norm, no MLP (the "micro" model).
"""
import numpy as np

from hecate_edge.reference.mathfn import sigmoid

COMPOSITION_ID = 0
NAME = "mag"
WINDOW_ENTRIES = 1
TENSORS: tuple[str, ...] = ()


def gate_attention(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """MATH §4: o_n = a_n * sigmoid(y_n), elementwise."""
    return a * sigmoid(y)


def output_projection(wo: np.ndarray, o: np.ndarray) -> np.ndarray:
    """MATH §4: p_n = Wo o_n."""
    return o @ wo


def lm_head(head: np.ndarray, p: np.ndarray) -> np.ndarray:
    """MATH §4: logits_n = head p_n."""
    return p @ head


def block(session, layer: int, x: np.ndarray) -> np.ndarray:
    """MATH §4: p = Wo (SWA(x) * sigmoid(memory(x))): attention and memory both read x."""
    a = session.attend(layer, x)
    y = session.memory_output(layer, x)
    return output_projection(session.output_weights(layer), gate_attention(a, y))
