"""Which build of the runtime loads (D79): the AVX2 + FMA build where the CPU runs it, the
portable one elsewhere, $HECATE_EDGE_ISA to choose; and the build not chosen tested too.

The rest of the suite runs on the build this machine picks.  The other one (the portable
build on an AVX2 machine) runs the suites that hold it to the numpy reference and `process`
to `step` bit for bit, in a subprocess with $HECATE_EDGE_ISA set."""
import os

import pytest

from hecate_edge import _lib
from test_native_fma import SUITES as CHUNKING_SUITES, run_suites

# parity against numpy, then test_native_fma's: every composition and rule chunked against step, CMS, int8
SUITES = ["tests/test_parity.py", *CHUNKING_SUITES]


@pytest.fixture
def lib_folder(tmp_path):
    """A folder holding both builds' file names (pick_isa looks only at which files are there)."""
    for stem in ("hecate", "hecate_avx2"):
        (tmp_path / _lib.library_filename(stem)).write_bytes(b"")
    return tmp_path


@pytest.mark.parametrize("env, cpu, avx2_file, want", [
    (None, True, True, "avx2"),
    ("auto", True, True, "avx2"),
    ("", True, True, "avx2"),
    (None, False, True, "baseline"),      # a CPU without AVX2 or FMA
    (None, True, False, "baseline"),      # a build without the variant (arm64, a parent project)
    ("baseline", True, True, "baseline"),
    ("avx2", True, False, "avx2"),        # chosen: its missing file is load_library's error
])
def test_pick_isa(monkeypatch, lib_folder, env, cpu, avx2_file, want):
    monkeypatch.setattr(_lib, "cpu_runs_avx2", lambda: cpu)
    if env is None:
        monkeypatch.delenv(_lib.ISA_ENV, raising=False)
    else:
        monkeypatch.setenv(_lib.ISA_ENV, env)
    if not avx2_file:
        (lib_folder / _lib.library_filename("hecate_avx2")).unlink()
    assert _lib.pick_isa(lib_folder, "hecate") == want


def test_pick_isa_refuses_what_cannot_run(monkeypatch, lib_folder):
    monkeypatch.setattr(_lib, "cpu_runs_avx2", lambda: False)
    monkeypatch.setenv(_lib.ISA_ENV, "avx2")
    with pytest.raises(ImportError, match="lacks AVX2 or FMA"):
        _lib.pick_isa(lib_folder, "hecate")
    monkeypatch.setenv(_lib.ISA_ENV, "avx512")
    with pytest.raises(ValueError, match="HECATE_EDGE_ISA must be one of"):
        _lib.pick_isa(lib_folder, "hecate")


def test_the_loaded_build_is_the_picked_one():
    binding = _lib.load_library("f32")
    assert binding.isa == _lib.pick_isa(_lib.lib_dir(), "hecate")
    if _lib.cpu_runs_avx2() and (_lib.lib_dir() / _lib.library_filename("hecate_avx2")).is_file() \
            and os.environ.get(_lib.ISA_ENV, "auto") in ("", "auto"):
        assert binding.isa == "avx2"


def _other_isa() -> str | None:
    """The build this process did not load, where it is there and can run."""
    if _lib.load_library("f32").isa == "avx2":
        return "baseline"
    folder = _lib.lib_dir()
    if _lib.cpu_runs_avx2() and all((folder / _lib.library_filename(s)).is_file()
                                    for s in ("hecate_avx2", "hecate_f64_avx2")):
        return "avx2"
    return None


@pytest.mark.skipif(_other_isa() is None, reason="one build of the runtime here (no AVX2 + FMA variant or CPU)")
def test_the_other_build_passes_parity_and_chunking():
    run_suites(dict(os.environ, **{_lib.ISA_ENV: _other_isa()}), *SUITES,
               "tests/test_isa.py::test_the_loaded_build_is_the_picked_one")
