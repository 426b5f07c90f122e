"""Delta-rule memory (rule id 0): one inner gradient step on ||M k - v||^2 / 2 per token.

Implements MATH §3.2; the forget gate alpha and step size theta come from the
front end (MATH §3.1).  State: M, a d x d matrix, row-major.
"""
import numpy as np

RULE_ID = 0
NAME = "delta"
# MATH §3.1: gate name and activation, in gate_w / gate_b row order.
GATES = (("alpha", "sigmoid"), ("theta", "softplus"))
# MATH §3.1: per level, biases of (alpha, theta); level 0 keeps ~95% per token, theta ~ 0.01.
DEFAULT_GATE_BIAS = ((-3.0, -4.6),)
# FORMAT.md header rule hyper-parameters: the delta rule takes none.
PARAM_NAMES = ()


def init_state(d: int) -> np.ndarray:
    """MATH §3.2: M_0 = 0 (d x d)."""
    return np.zeros((d, d), dtype=np.float64)


def prediction_error(m: np.ndarray, km: np.ndarray, vm: np.ndarray) -> np.ndarray:
    """MATH §3.2: e_n = M_n km_n - vm_n."""
    return m @ km - vm


def write(m: np.ndarray, km: np.ndarray, vm: np.ndarray, gates: dict[str, float]) -> np.ndarray:
    """MATH §3.2: M_{n+1} = (1 - alpha_n) M_n - theta_n e_n km_n^T."""
    e = prediction_error(m, km, vm)
    return (1.0 - gates["alpha"]) * m - gates["theta"] * np.outer(e, km)


def read(m: np.ndarray, qm: np.ndarray) -> np.ndarray:
    """MATH §3.2: y = M qm (after the write, or M_n when the memory is frozen)."""
    return m @ qm


def write_read(m: np.ndarray, km: np.ndarray, vm: np.ndarray, qm: np.ndarray,
               gates: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """MATH §3.2: returns (M_{n+1}, y_n = M_{n+1} qm_n)."""
    m_next = write(m, km, vm, gates)
    return m_next, read(m_next, qm)
