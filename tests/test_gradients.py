"""Profile 2 backward (MATH §7) of the double build against central finite
differences of its own forward, for every parameter tensor, from a fresh and
from a carried-over state (which must act as a constant)."""

import numpy as np
import pytest

from hecate_edge.config import ModelConfig
from finite_diff import central_difference
from conftest import RULE_CASES, build_model, lively_params, rule_config

EPS = 1e-5  # central differences: truncation ~1e-11, roundoff ~3e-11 at loss ~3


def chunk_loss(model, sess, blob, tokens, targets) -> float:
    sess.load_state(blob)
    loss, _ = sess.train_chunk(tokens, targets)
    return loss


@pytest.mark.parametrize("cfg,warmup,frozen", [
    (ModelConfig(vocab=24, d_model=8, n_heads=2, window=3), 0, False),
    (ModelConfig(vocab=24, d_model=8, n_heads=2, window=3), 5, False),
    (ModelConfig(vocab=20, d_model=6, n_heads=3, window=8, qk_norm=False), 4, False),
    (ModelConfig(vocab=24, d_model=8, n_heads=2, window=3), 5, True),
], ids=["fresh", "carried-state", "no-qk-norm", "frozen-memory"])
@pytest.mark.parametrize("case", RULE_CASES)
def test_every_gradient_matches_finite_differences(cfg, warmup, frozen, case):
    cfg = rule_config(cfg, case)
    model, _ = build_model(cfg, lively_params(cfg, 11), "f64")
    rng = np.random.default_rng(3)
    T = 9
    tokens = rng.integers(0, cfg.vocab, T)
    targets = rng.integers(0, cfg.vocab, T)
    targets[2] = cfg.vocab  # ignored position
    warm = model.session()
    warm.process(rng.integers(0, cfg.vocab, warmup))
    blob = warm.save_state()  # a frozen session cannot build a memory itself
    sess = model.session(max_train_tokens=T, freeze_memory=frozen)
    sess.load_state(blob)
    _, grads = sess.train_chunk(tokens, targets)
    grads = model.split_grads(grads.copy())
    weights = model.weights()
    for name, w in weights.items():
        g = grads[name]
        flat_w, flat_g = w.reshape(-1), g.reshape(-1)
        picks = set(rng.choice(flat_w.size, min(8, flat_w.size), replace=False).tolist())
        picks.add(int(np.argmax(np.abs(flat_g))))
        for i in sorted(picks):
            # the elastic net's shrink and the Huber bias have kinks (MATH §3.5, §3.8): a
            # difference whose +-EPS straddles one is off; a tenth of the step straddles
            # it only if the kink lies within EPS / 10 of the point
            for eps in (EPS, EPS / 10):
                fd = central_difference(lambda: chunk_loss(model, sess, blob, tokens, targets), flat_w, i, eps)
                if abs(fd - flat_g[i]) <= 2e-9 + 1e-6 * abs(fd):
                    break
            assert abs(fd - flat_g[i]) <= 2e-9 + 1e-6 * abs(fd), (
                f"{name}[{i}]: backward {flat_g[i]:.10g} vs finite difference {fd:.10g}")
        if frozen and name.startswith("blk0.mem0.") and not name.endswith(("wq", "conv_q")):
            assert not np.abs(g).any(), f"{name}: a frozen memory only reads (through wq and its convolution)"
        else:
            assert np.abs(g).max() > 0, f"{name}: gradient is identically zero"


def test_float_build_gradients_match_double():
    """The float build's backward agrees with the double build's."""
    cfg = ModelConfig(vocab=32, d_model=16, n_heads=2, window=4)
    params = lively_params(cfg, 5)
    toks = np.arange(12) % 32
    tg = (toks + 1) % 32
    out = {}
    for precision in ("f32", "f64"):
        model, _ = build_model(cfg, params, precision)
        loss, g = model.session(max_train_tokens=12).train_chunk(toks, tg)
        out[precision] = (loss, g.astype(np.float64))
    assert abs(out["f32"][0] - out["f64"][0]) < 1e-5
    from parity import assert_close
    assert_close(out["f32"][1], out["f64"][1], 1e-4, "gradients f32 vs f64")


def test_train_chunk_advances_like_process():
    """The training forward is the inference forward: same state afterwards."""
    cfg = ModelConfig(vocab=32, d_model=16, n_heads=2, window=4)
    model, _ = build_model(cfg, lively_params(cfg, 2), "f32")
    toks = np.arange(20) % 32
    a, b = model.session(max_train_tokens=20), model.session()
    a.train_chunk(toks, toks)
    b.process(toks)
    assert a.save_state() == b.save_state()


@pytest.mark.parametrize("cfg,frozen", [
    (ModelConfig(vocab=24, d_model=8, n_heads=2, window=3), False),
    (ModelConfig(vocab=24, d_model=8, n_heads=2, window=3), True),
    (ModelConfig(vocab=24, d_model=8, n_heads=2, window=3, composition="mag"), False),
    (ModelConfig(vocab=24, d_model=8, n_heads=2, window=3, composition="mac", n_levels=2), False),
    (ModelConfig(vocab=24, d_model=8, n_heads=2, window=3, n_layers=2, n_levels=2, periods=(1, 2)), False),
], ids=["mal", "frozen-memory", "mag", "mac-2-levels", "2-layers-cms"])
def test_gradients_do_not_read_the_buffer_they_are_written_to(cfg, frozen):
    """D66: every tensor of the gradient buffer is zeroed or, for a linear map's
    weights, stored by its first write: what the buffer held before is never read."""
    model, _ = build_model(cfg, lively_params(cfg, 4), "f32")
    tokens = np.arange(9) % cfg.vocab
    grads = {}
    for fill in (0.0, np.nan):
        out = np.full(model.n_params, fill, np.float32)
        model.session(max_train_tokens=9, freeze_memory=frozen).train_chunk(tokens, tokens[::-1], out=out)
        grads[fill] = out
    assert grads[0.0].tobytes() == grads[np.nan].tobytes()
