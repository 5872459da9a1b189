"""The python code blocks of docs/PYTHON.md run as written."""

import os
import re

import pytest

DOC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "PYTHON.md")


def blocks():
    if not os.path.exists(DOC):
        return []
    with open(DOC, encoding="utf-8") as f:
        return re.findall(r"```python\n(.*?)```", f.read(), re.S)


def test_doc_has_examples():
    if not os.path.exists(DOC):
        pytest.skip("docs/PYTHON.md is not next to these tests (installed copy)")
    assert blocks()


@pytest.mark.parametrize("code", blocks())
def test_doc_block_runs(code, golden_dir, monkeypatch, capsys):
    monkeypatch.setenv("Q4R_GOLDEN_DIR", golden_dir)
    exec(compile(code, DOC, "exec"), {"__name__": "docs"})
    assert "max relative error" in capsys.readouterr().out
