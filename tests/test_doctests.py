"""Run every docstring example of the installed densekit package as a doctest.

The modules are imported by name, so this checks the package pytest imports
(an editable or a regular ``pip install .``), never an uncompiled ``src/``.
"""

import doctest
import importlib
import importlib.util
import pkgutil
import sys

import pytest

import densekit

# Modules that need an optional framework at import time.
FRAMEWORKS = {"densekit.torch": "torch", "densekit.dask": "dask", "densekit.jax": "jax",
              "densekit.keras": "keras"}
MODULES = ["densekit"] + [
    info.name
    for info in pkgutil.walk_packages(densekit.__path__, "densekit.")
    if info.name != "densekit.__main__"  # importing it runs the CLI
]
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE

pytestmark = pytest.mark.skipif(
    sys.flags.optimize >= 2, reason="python -OO removes the docstrings"
)


def _tests(name):
    framework = FRAMEWORKS.get(name)
    if framework is not None and importlib.util.find_spec(framework) is None:
        pytest.skip(f"{name} needs {framework}, which is not installed")
    module = importlib.import_module(name)
    return [t for t in doctest.DocTestFinder().find(module, name) if t.examples]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    report = []
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in _tests(name):
        runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)


def test_the_examples_are_found():
    """Guard against collecting nothing (about 50 docstrings have Examples)."""
    names = [n for n in MODULES if n not in FRAMEWORKS or importlib.util.find_spec(FRAMEWORKS[n])]
    found = sum(len(_tests(n)) for n in names)
    assert found >= 40, found
