"""Every ```python block of the README runs, in order, as a new user would run it: in a
fresh temporary working directory, in a new interpreter (issue 10 item 21).

Blocks share one namespace (later ones use the `model` or `init` of earlier ones, as a
reader's session would). A block that needs an optional framework (torch, dask, zarr, jax,
keras) runs only when it is importable; nothing else is skipped.
"""

import importlib.util
import pathlib
import re
import subprocess
import sys
import textwrap

import pytest

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"

# A block needing one of these runs only when it is importable.
_OPTIONAL = {
    "torch": re.compile(r"^\s*import torch\b|densekit\.torch", re.M),
    "dask": re.compile(r"densekit\.dask|import dask", re.M),
    "zarr": re.compile(r"\.to_zarr\(", re.M),
    "jax": re.compile(r"^\s*import jax\b|densekit\.jax", re.M),
    "keras": re.compile(r"^\s*import keras\b|densekit\.keras", re.M),
}

_RUNNER = textwrap.dedent("""
    import json, sys, traceback
    blocks = json.load(open(sys.argv[1]))
    namespace = {"__name__": "__main__"}
    for line, code in blocks:
        try:
            exec(compile(code, f"README.md:{line}", "exec"), namespace)
        except BaseException:
            traceback.print_exc()
            print(f"README block at line {line} failed", file=sys.stderr)
            sys.exit(1)
        print(f"ok {line}", flush=True)
""")


def python_blocks(text):
    """[(line number of the opening fence, code)] of every ```python block."""
    blocks = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```python":
            start = i + 1
            j = start
            while j < len(lines) and lines[j].strip() != "```":
                j += 1
            blocks.append((start, "\n".join(lines[start:j]) + "\n"))
            i = j
        i += 1
    return blocks


def _missing(code):
    return [name for name, pattern in _OPTIONAL.items()
            if pattern.search(code) and importlib.util.find_spec(name) is None]


def test_readme_has_python_examples():
    if not README.exists():
        pytest.skip(f"no README.md at {README} (tests run outside the source tree)")
    assert len(python_blocks(README.read_text(encoding="utf-8"))) >= 5


def test_readme_python_blocks_run_in_order(tmp_path):
    if not README.exists():
        pytest.skip(f"no README.md at {README} (tests run outside the source tree)")
    import json

    blocks = [(line, code) for line, code in python_blocks(README.read_text(encoding="utf-8"))
              if not _missing(code)]
    work = tmp_path / "work"
    work.mkdir()
    spec = tmp_path / "blocks.json"
    spec.write_text(json.dumps(blocks))
    res = subprocess.run([sys.executable, "-c", _RUNNER, str(spec)], cwd=work,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-4000:]
    done = [line for line in res.stdout.splitlines() if re.fullmatch(r"ok \d+", line)]
    assert done == [f"ok {line}" for line, _ in blocks]
