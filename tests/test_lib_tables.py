"""The code tables of the compiled core and the stubs that describe the modules.

Each table is written once, in C (enum dk_act_code in src/dk_activations.h, enum
dk_sampler_kind in src/sampling.h), and reaches Python through a cpdef enum; these tests
check what Python sees, not a second copy of the values.
"""

import ast
import importlib
import importlib.resources
import math

import numpy as np
import pytest

from densekit._lib import _activations, _dense, _random

COMPILED = ["_openmp", "_random", "_constraints", "_regularizers", "_activations", "_dense"]


def act_names(module):
    return sorted(name for name in vars(module) if name.startswith("ACT_"))


def test_activation_codes_are_module_ints():
    names = act_names(_activations)
    assert len(names) == _activations.N_CODES == 29
    values = [getattr(_activations, name) for name in names]
    assert all(type(v) is int for v in values)
    # One code per activation, dense from 0: the kernels index nothing else.
    assert sorted(values) == list(range(_activations.N_CODES))
    assert _activations.ACT_LINEAR == 0
    assert _activations.ACT_SOFTMAX < _activations.ACT_LOG_SOFTMAX == _activations.N_CODES - 1


def test_kernels_accept_exactly_the_codes():
    x = np.ones((2, 3))
    w = np.ones((3, 4))
    out = np.empty((2, 4))
    _dense.dense_forward(x, w, None, out, _activations.ACT_LOG_SOFTMAX, 0.0, 0.0, 0.0, 1)
    np.testing.assert_allclose(out, -math.log(4.0))
    for bad in (-1, _activations.N_CODES):
        with pytest.raises(ValueError, match="unknown activation code"):
            _dense.dense_forward(x, w, None, out, bad, 0.0, 0.0, 0.0, 1)


def test_public_module_uses_the_same_codes():
    # Whatever densekit.activations keeps at module level under these names is the table.
    public = importlib.import_module("densekit.activations.activations")
    for name in act_names(public):
        assert getattr(public, name) == getattr(_activations, name), name


def test_sampler_kinds_are_module_ints():
    kinds = [_random.UNIFORM, _random.NORMAL, _random.TRUNCATED_NORMAL]
    assert all(type(k) is int for k in kinds)
    # The kind is the stream tag (counter word 3, see _random's docstring): never renumbered.
    assert kinds == [0, 1, 2]


def stub_names(module_name):
    text = importlib.resources.files("densekit._lib").joinpath(module_name + ".pyi").read_text()
    names = set()
    for node in ast.parse(text).body:
        if isinstance(node, ast.AnnAssign):
            names.add(node.target.id)
        elif isinstance(node, ast.FunctionDef):
            names.add(node.name)
    return names


@pytest.mark.parametrize("module_name", COMPILED)
def test_stub_names_exist(module_name):
    module = importlib.import_module("densekit._lib." + module_name)
    names = stub_names(module_name)
    assert names
    missing = sorted(name for name in names if not hasattr(module, name))
    assert not missing


def test_stubs_declare_every_code():
    assert {n for n in stub_names("_activations") if n.startswith("ACT_")} == set(act_names(_activations))
    assert {"UNIFORM", "NORMAL", "TRUNCATED_NORMAL"} <= stub_names("_random")
