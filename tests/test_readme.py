"""Docs that run: every ```python block of README.md executes as written."""
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_block_runs(index, capsys):
    exec(compile(BLOCKS[index], f"README.md python block {index}", "exec"), {})
    if "print(err.name)" in BLOCKS[index]:  # the block promises the error name in a comment
        assert "HECATE_E_STATE_TRUNCATED" in capsys.readouterr().out


def test_readme_has_python_examples():
    assert BLOCKS, "README.md lost its Python example"


def test_ops_doc_example_runs():
    """docs/OPS.md's example runs as written."""
    ops_doc = README.parent / "docs" / "OPS.md"
    for block in re.findall(r"```python\n(.*?)```", ops_doc.read_text(), flags=re.S):
        exec(compile(block, "docs/OPS.md python block", "exec"), {})
