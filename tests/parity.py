"""The one way tests compare numbers: max-abs error, and where that is above a
tiny floor, the RMS-relative error under a ratio (errors cannot cancel)."""
import numpy as np


def assert_close(actual, expected, rel: float, what: str, floor: float = 1e-30) -> None:
    """Fail unless `actual` matches `expected` to RMS-relative error `rel`.

    max-abs error at or below `floor` passes outright (exactly equal arrays,
    all-zero states); otherwise rms(actual - expected) / rms(expected) must be
    <= rel.  Shapes must match and everything must be finite.
    """
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != {e.shape}"
    assert np.isfinite(a).all(), f"{what}: non-finite values"
    err = np.abs(a - e)
    max_abs = float(err.max()) if err.size else 0.0
    if max_abs <= floor:
        return
    rms_e = float(np.sqrt(np.mean(e * e)))
    rms_rel = float(np.sqrt(np.mean(err * err))) / max(rms_e, floor)
    assert rms_rel <= rel, f"{what}: rms-relative error {rms_rel:.3g} > {rel:.3g} (max-abs {max_abs:.3g})"
