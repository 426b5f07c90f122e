"""What a user installing the package relies on besides the code: one
version everywhere, the license and metadata in pyproject.toml, the typed
marker shipped inside the package."""
import tomllib
from pathlib import Path

import hecate_edge

ROOT = Path(__file__).resolve().parents[1]


def test_one_version_in_pyproject_and_package():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["version"] == hecate_edge.__version__


def test_license_and_metadata_are_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == {"text": "Apache-2.0"}
    assert "Apache License" in (ROOT / "LICENSE").read_text() and "Version 2.0" in (ROOT / "LICENSE").read_text()
    assert project["readme"] == "README.md" and project["classifiers"] and project["keywords"]


def test_package_is_marked_typed():
    assert (Path(hecate_edge.__file__).parent / "py.typed").exists()


def test_library_header_and_package_share_one_version():
    import re

    from hecate_edge import _lib

    try:
        binding = _lib.load_library("f32")
    except ImportError as exc:
        import pytest

        pytest.skip(f"C runtime not available: {exc}")
    header = (ROOT / "runtime_c" / "include" / "hecate.h").read_text()
    parts = [re.search(rf"#define HECATE_VERSION_{p} (\d+)", header).group(1) for p in ("MAJOR", "MINOR", "PATCH")]
    assert ".".join(parts) == hecate_edge.__version__
    assert f'#define HECATE_VERSION_STRING "{hecate_edge.__version__}"' in header
    assert f"project(hecate_edge VERSION {hecate_edge.__version__} " in (ROOT / "CMakeLists.txt").read_text()
    assert binding.ffi.string(binding.lib.hecate_version()).decode() == hecate_edge.__version__
