"""The C runtime as a dependency of other C projects: `cmake --install`
gives a find_package(hecate) config and a pkg-config file that a consumer
builds and links against, and add_subdirectory builds only the libraries
(no tests, no -Werror) into the parent's own build folder."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import hecate_edge

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(shutil.which("cmake") is None or shutil.which("cc") is None,
                                reason="needs cmake and a C compiler")

CONSUMER_C = r"""
#include <stdio.h>
#include <string.h>
#include "hecate.h"
int main(void) {
    /* the library answers with the version of the header it was compiled against */
    if (strcmp(hecate_version(), HECATE_VERSION_STRING) != 0) return 1;
    printf("%s|%s\n", hecate_version(), hecate_status_str(HECATE_E_FILE_CRC));
    return 0;
}
"""


def run(*cmd, cwd=None, env=None):
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def consumer(folder: Path, cmake_body: str) -> Path:
    folder.mkdir()
    (folder / "main.c").write_text(CONSUMER_C)
    (folder / "CMakeLists.txt").write_text("cmake_minimum_required(VERSION 3.18)\nproject(consumer C)\n" + cmake_body)
    return folder


def expected_line() -> str:
    return f"{hecate_edge.__version__}|HECATE_E_FILE_CRC: CRC32 mismatch: the file is corrupt"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The runtime built and installed (shared libraries) under a fresh prefix."""
    base = tmp_path_factory.mktemp("cmake_install")
    run("cmake", "-S", ROOT, "-B", base / "build", "-DCMAKE_BUILD_TYPE=Release", "-DBUILD_TESTING=OFF")
    run("cmake", "--build", base / "build", "-j2")
    run("cmake", "--install", base / "build", "--prefix", base / "prefix")
    return base / "prefix"


def test_find_package_consumer_builds_links_and_runs(installed, tmp_path):
    src = consumer(tmp_path / "src", "find_package(hecate 0.1 REQUIRED)\nadd_executable(consumer main.c)\n"
                                     "target_link_libraries(consumer PRIVATE hecate::hecate)\n")
    run("cmake", "-S", src, "-B", tmp_path / "b", f"-DCMAKE_PREFIX_PATH={installed}")
    run("cmake", "--build", tmp_path / "b")
    assert run(tmp_path / "b" / "consumer").strip() == expected_line()


def test_pkg_config_consumer_builds_links_and_runs(installed, tmp_path):
    if shutil.which("pkg-config") is None:
        pytest.skip("pkg-config is not installed")
    env = dict(os.environ, PKG_CONFIG_PATH=str(next(installed.glob("lib*/pkgconfig"))))
    flags = run("pkg-config", "--cflags", "--libs", "hecate", env=env).split()
    assert run("pkg-config", "--modversion", "hecate", env=env).strip() == hecate_edge.__version__
    (tmp_path / "main.c").write_text(CONSUMER_C)
    run("cc", "-std=c99", str(tmp_path / "main.c"), "-o", str(tmp_path / "consumer"), *flags)
    libdir = next(f[2:] for f in flags if f.startswith("-L"))
    out = run(tmp_path / "consumer", env=dict(os.environ, LD_LIBRARY_PATH=libdir))
    assert out.strip() == expected_line()


def test_add_subdirectory_builds_only_the_static_libraries(tmp_path):
    src = consumer(tmp_path / "src", f"set(HECATE_STATIC ON)\nadd_subdirectory({ROOT.as_posix()} hecate)\n"
                                     "add_executable(consumer main.c)\n"
                                     "target_link_libraries(consumer PRIVATE hecate::hecate)\n")
    run("cmake", "-S", src, "-B", tmp_path / "b", "-DCMAKE_BUILD_TYPE=Release")
    run("cmake", "--build", tmp_path / "b", "-j2")
    assert run(tmp_path / "b" / "consumer").strip() == expected_line()
    built = {p.name for p in (tmp_path / "b").rglob("*") if p.is_file()}
    assert "libhecate.a" in built and "test_runtime" not in built  # no C tests in a parent's build
    assert not (tmp_path / "b" / "libhecate.a").exists()  # the parent's build root stays the parent's
