"""The chunking invariant (MATH §6) in a `-march=native` build that fuses its multiply-adds.

The kernels' accumulations go through HCT_VMADD / hct_madd (runtime_c/src/mathfn.h), fused
where the build targets x86 FMA: the AVX2 + FMA library that loads on such a core (D79; the
rest of the suite runs on it there, test_isa.py on the portable one) and `-march=native`,
what `pip install . -C cmake.define.HECATE_NATIVE_ARCH=ON` builds, which may use more of the
core (AVX-512 where the compiler finds a use).  Here libhecate (float and double) is compiled
with `-march=native` and the suites that hold `process` to `step` bit for bit run against it
in a subprocess.  Skipped where the compiler or the core has no FMA or off x86-64."""
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hecate_edge._lib import lib_dir, library_filename
from test_c_runtime import CC, ROOT, SHARED_FLAGS

# every composition and rule chunked against step, the CMS levels, the int8 kernels, and the
# training gradients against finite differences
SUITES = ["tests/test_session.py", "tests/test_compositions.py", "tests/test_cms.py", "tests/test_int8.py",
          "tests/test_gradients.py"]


def run_suites(env: dict, *suites: str, timeout: int = 1500) -> None:
    """pytest over `suites` in a subprocess with `env` (another build of the runtime), failing on a failure."""
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *suites],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def _native_macros(*args: str) -> str:
    """The macros the compiler defines for this core (-march=native), after any -include in args."""
    probe = subprocess.run([CC, "-march=native", "-dM", "-E", "-x", "c", *args, os.devnull],
                           capture_output=True, text=True)
    return probe.stdout if probe.returncode == 0 else ""


def _native_has_fma() -> bool:
    if CC is None or platform.machine() not in ("x86_64", "AMD64"):
        return False
    return "#define __FMA__ 1" in _native_macros()


pytestmark = pytest.mark.skipif(not _native_has_fma(), reason="no x86-64 compiler and core with FMA")


@pytest.fixture(scope="module")
def native_lib_dir(tmp_path_factory) -> Path:
    """libhecate and libhecate_f64 built with -march=native, and hecate.h beside them (with the
    worker pool the trainer runs on, libhecate_threads, as built: it has no arithmetic).  The
    linear map's calls of several tokens take blocks of four vectors for two tokens, an
    AVX-512VL core's default (D82), on every core, so they are held to `step`'s one-token
    blocks with fused multiply-adds wherever this runs."""
    out = tmp_path_factory.mktemp("native_fma")
    sources = sorted(str(p) for p in (ROOT / "runtime_c" / "src").rglob("*.c"))
    for stem, real in (("hecate", "float"), ("hecate_f64", "double")):
        subprocess.run([CC, "-std=c99", "-O2", "-march=native", "-shared", "-fPIC", *SHARED_FLAGS,
                        f"-DHECATE_REAL={real}", "-DHECATE_LIN_PAIR_VECS=4", f"-I{ROOT / 'runtime_c' / 'include'}", *sources,
                        "-o", str(out / library_filename(stem))], check=True, capture_output=True, text=True)
    shutil.copy(ROOT / "runtime_c" / "include" / "hecate.h", out / "hecate.h")
    for name in (library_filename("hecate_threads"), "hecate_threads.h"):
        shutil.copy(lib_dir() / name, out / name)
    return out


def test_native_build_fuses(native_lib_dir):
    """The build under test does fuse (else this file would test nothing new)."""
    macros = _native_macros("-include", str(ROOT / "runtime_c" / "src" / "mathfn.h"),
                            f"-I{ROOT / 'runtime_c' / 'include'}")
    assert "#define HCT_FMA 1" in macros


def test_chunking_is_bit_exact_with_fused_multiply_adds(native_lib_dir):
    run_suites(dict(os.environ, HECATE_EDGE_LIB_DIR=str(native_lib_dir)), *SUITES, timeout=1200)
