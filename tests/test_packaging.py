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
