"""Central finite differences, the one way the backward tests check a gradient."""
import numpy as np


def central_difference(loss, array: np.ndarray, index, eps: float) -> float:
    """(loss() at array[index] + eps - loss() at - eps) / (2 eps); array is
    perturbed in place and restored."""
    saved = array[index]
    array[index] = saved + eps
    up = loss()
    array[index] = saved - eps
    down = loss()
    array[index] = saved
    return (up - down) / (2 * eps)


def numeric_gradient(loss, array: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """d loss() / d array, element by element."""
    return np.array([central_difference(loss, array, at, eps) for at in np.ndindex(array.shape)]).reshape(
        array.shape)


def probe_indices(array: np.ndarray, rng, probes: int) -> list[tuple]:
    """`probes` random indices into array, drawn from rng."""
    return [tuple(int(i) for i in index) for index in rng.integers(0, array.shape, size=(probes, array.ndim))]


def assert_gradient_matches(grads: dict, name: str, index, fd: float) -> None:
    """grads[name][index] equals the finite difference fd (1e-6 abs + 1e-5 rel, double build)."""
    assert abs(grads[name][index] - fd) <= 1e-6 + 1e-5 * abs(fd), \
        f"{name}{index}: backward {grads[name][index]:.10g} vs finite difference {fd:.10g}"


def assert_chunk_gradients(model, sess, blob: bytes, tokens, targets, probes: int, skip=lambda name: False) -> None:
    """hecate_train_chunk's gradient of every weight tensor from the state `blob`
    (but those `skip(name)` names): non-zero somewhere, and at `probes` random
    entries per tensor equal to the finite difference of the chunk loss."""
    sess.load_state(blob)
    _, flat = sess.train_chunk(tokens, targets)
    grads = model.split_grads(flat)

    def loss():
        sess.load_state(blob)
        return sess.train_chunk(tokens, targets)[0]

    probe = np.random.default_rng(1)
    for name, w in model.weights().items():
        if skip(name):
            continue
        assert np.abs(grads[name]).max() > 0, f"{name}: gradient is identically zero"
        for index in probe_indices(w, probe, probes):
            assert_gradient_matches(grads, name, index, central_difference(loss, w, index, 1e-6))
