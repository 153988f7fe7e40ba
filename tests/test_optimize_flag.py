"""densekit under ``python -OO``: docstrings are None, and nothing may depend on them."""

import importlib.util
import pkgutil
import subprocess
import sys

import densekit

# Modules that import an optional framework at import time.
FRAMEWORKS = {"densekit.torch": "torch", "densekit.dask": "dask", "densekit.jax": "jax",
              "densekit.keras": "keras"}


def _modules():
    names = ["densekit"]
    for info in pkgutil.walk_packages(densekit.__path__, "densekit."):
        if info.name == "densekit.__main__":  # runs the CLI
            continue
        framework = FRAMEWORKS.get(info.name)
        if framework is not None and importlib.util.find_spec(framework) is None:
            continue
        names.append(info.name)
    return names


def test_every_module_imports_and_runs_under_python_OO():
    modules = _modules()
    # The public modules must be among them, whatever else the package grows.
    assert {"densekit.models", "densekit.activations", "densekit.layers",
            "densekit.initializers", "densekit.constraints", "densekit.regularizers",
            "densekit.io"} <= set(modules)
    code = (
        f"import {', '.join(modules)}\n"
        "import numpy as np\n"
        "from densekit import activations, layers, models\n"
        # (assert statements are stripped under -O: check explicitly)
        "if activations.relu.__doc__ is not None: raise SystemExit('not under -OO')\n"
        "if activations.relu([-1.0, 2.0]).tolist() != [0.0, 2.0]: raise SystemExit('relu')\n"
        "m = models.Sequential([layers.Dense(3, activation='softmax',"
        " kernel_initializer='glorot_uniform')])\n"
        "p = m.predict(np.ones((2, 4)), verbose=0)\n"
        "if not np.allclose(p.sum(axis=1), 1.0): raise SystemExit('predict')\n"
        "print('ok')\n"
    )
    res = subprocess.run([sys.executable, "-OO", "-c", code], capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"
