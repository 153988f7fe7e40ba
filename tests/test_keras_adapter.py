"""densekit.keras: densekit initializers that survive Keras 3 save/load/clone.

The default suite checks the registration logic against a stand-in `keras`
module (Keras is not a test dependency), the configs Keras stores and rebuilds
from, and the clear errors densekit's constraints and regularizers give inside
Keras models. The live checks (-m keras) build, save, load, clone and fit real
Keras 3 models on the jax, torch and numpy backends, each in a subprocess since
a Keras backend is chosen once per process.
"""

import importlib
import json
import os
import subprocess
import sys
import textwrap
import types

import numpy as np
import pytest

import densekit
from densekit import constraints, initializers, regularizers


def _stand_in_keras(version="3.15.1"):
    """The piece of Keras' API densekit.keras uses, with Keras' registry semantics."""
    keras = types.ModuleType("keras")
    keras.__version__ = version
    saving = types.ModuleType("keras.saving")
    saving.GLOBAL_CUSTOM_OBJECTS = {}
    saving.GLOBAL_CUSTOM_NAMES = {}

    def register_keras_serializable(package="Custom", name=None):
        def decorator(arg):
            registered = f"{package}>{name if name is not None else arg.__name__}"
            if isinstance(arg, type) and not hasattr(arg, "get_config"):
                raise ValueError("Cannot register a class that does not have a get_config() method.")
            saving.GLOBAL_CUSTOM_OBJECTS[registered] = arg
            saving.GLOBAL_CUSTOM_NAMES[arg] = registered
            return arg

        return decorator

    saving.register_keras_serializable = register_keras_serializable
    keras.saving = saving
    return keras


@pytest.fixture
def fresh_import(monkeypatch):
    """Import densekit.keras anew against whatever sys.modules['keras'] is set to."""

    def do_import(keras_module):
        monkeypatch.setitem(sys.modules, "keras", keras_module)
        # Recorded, then removed: the undo restores (or removes) the real module, so a
        # later `import densekit.keras` never gets this one, bound to the stand-in.
        monkeypatch.setitem(sys.modules, "densekit.keras", None)
        del sys.modules["densekit.keras"]
        monkeypatch.setattr(densekit, "keras", None, raising=False)
        return importlib.import_module("densekit.keras")

    return do_import


def test_import_registers_every_initializer(fresh_import):
    keras = _stand_in_keras()
    module = fresh_import(keras)
    registry = keras.saving.GLOBAL_CUSTOM_OBJECTS
    assert set(registry) == {f"densekit>{c.__name__}" for c in initializers.ALL_OBJECTS}
    for cls in initializers.ALL_OBJECTS:
        assert registry[module.registered_name(cls)] is cls
        assert keras.saving.GLOBAL_CUSTOM_NAMES[cls] == f"densekit>{cls.__name__}"
    # Keras' own names are left alone: only "densekit>..." keys.
    assert "HeNormal" not in registry


def test_register_is_idempotent_and_returns_the_names(fresh_import):
    keras = _stand_in_keras()
    module = fresh_import(keras)
    before = dict(keras.saving.GLOBAL_CUSTOM_OBJECTS)
    names = module.register()
    assert names == before
    assert keras.saving.GLOBAL_CUSTOM_OBJECTS == before
    assert names["densekit>HeNormal"] is initializers.HeNormal
    assert module.registered_name(initializers.GlorotUniform(seed=1)) == "densekit>GlorotUniform"
    assert module.PACKAGE == "densekit"


def test_missing_keras_names_the_extra(fresh_import):
    with pytest.raises(ImportError, match=r"pip install 'densekit\[keras\]'"):
        fresh_import(None)  # sys.modules[name] = None makes `import name` fail


def test_keras_2_is_refused(fresh_import):
    with pytest.raises(ImportError, match=r"needs Keras 3 \(found keras 2.15.0\)"):
        fresh_import(_stand_in_keras("2.15.0"))


def _instances():
    return [
        initializers.HeNormal(seed=3),
        initializers.HeUniform(seed=3),
        initializers.GlorotNormal(seed=3),
        initializers.GlorotUniform(seed=3),
        initializers.LecunNormal(seed=3),
        initializers.LecunUniform(seed=3),
        initializers.RandomNormal(mean=0.5, stddev=2.0, seed=3),
        initializers.RandomUniform(minval=-2.0, maxval=1.0, seed=3),
        initializers.TruncatedNormal(stddev=0.3, seed=3),
        initializers.VarianceScaling(scale=0.5, mode="fan_out", distribution="uniform", seed=3),
        initializers.Orthogonal(gain=2.0, seed=3),
        initializers.Constant(0.25),
        initializers.Ones(),
        initializers.Zeros(),
        initializers.Identity(gain=3.0),
    ]


@pytest.mark.parametrize("init", _instances(), ids=lambda i: type(i).__name__)
def test_keras_config_round_trip_gives_densekit_values(fresh_import, init):
    # What Keras stores in config.json and rebuilds on load_model/clone_model:
    # the registered class's from_config on the JSON of get_config.
    keras = _stand_in_keras()
    module = fresh_import(keras)
    stored = json.loads(json.dumps({
        "module": type(init).__module__,
        "class_name": type(init).__name__,
        "config": init.get_config(),
        "registered_name": keras.saving.GLOBAL_CUSTOM_NAMES[type(init)],
    }))
    cls = keras.saving.GLOBAL_CUSTOM_OBJECTS[stored["registered_name"]]
    rebuilt = cls.from_config(stored["config"])
    assert type(rebuilt) is type(init)
    assert stored["registered_name"] == module.registered_name(init)
    assert rebuilt.get_config() == init.get_config()
    assert np.array_equal(rebuilt((6, 4)), init((6, 4)))


# ------------------------------------------- constraints and regularizers in Keras


class _KerasLikeVariable:
    """Stands for keras.Variable: Keras passes its variables to regularizers."""

    def __init__(self, value):
        self._value = np.asarray(value)

    def __array__(self, dtype=None, copy=None):
        return self._value


_KerasLikeVariable.__module__ = "keras.src.backend.jax.core"


@pytest.mark.parametrize(
    "reg",
    [regularizers.L1(0.1), regularizers.L2(0.1), regularizers.L1L2(0.1, 0.2),
     regularizers.OrthogonalRegularizer(0.1), regularizers.Regularizer()],
    ids=lambda r: type(r).__name__,
)
def test_regularizer_given_a_keras_variable_is_a_clear_error(reg):
    with pytest.raises(TypeError, match=rf"is a densekit regularizer: a numpy kernel .*keras\.regularizers\.{type(reg).__name__}"):
        reg(_KerasLikeVariable(np.ones((3, 2), np.float32)))
    # numpy input is unchanged
    assert isinstance(reg(np.ones((3, 2), np.float32)), float)


@pytest.mark.parametrize(
    "con",
    [constraints.MaxNorm(1.0), constraints.NonNeg(), constraints.UnitNorm(),
     constraints.MinMaxNorm(0.5, 1.0)],
    ids=lambda c: type(c).__name__,
)
def test_constraint_under_jit_is_a_clear_error(con):
    jax = pytest.importorskip("jax")
    jnp = pytest.importorskip("jax.numpy")
    with pytest.raises(TypeError, match=r"numpy kernels for densekit models.*traced array.*keras\.constraints") as info:
        jax.jit(lambda w: con(w))(jnp.ones((3, 2)))
    assert info.value.__cause__ is None and info.value.__suppress_context__
    # Concrete jax arrays convert and work.
    assert np.array_equal(con(jnp.ones((3, 2))), con(np.ones((3, 2), np.float32)))


def test_regularizer_under_jit_is_a_clear_error():
    jax = pytest.importorskip("jax")
    jnp = pytest.importorskip("jax.numpy")
    with pytest.raises(TypeError, match="numpy kernels for densekit models"):
        jax.jit(lambda w: regularizers.L2(0.1)(w))(jnp.ones((3, 2)))


# ------------------------------------------------------------- live Keras 3

_LIVE = textwrap.dedent(
    r'''
    import json, os, sys, tempfile, doctest
    import numpy as np
    backend = sys.argv[1]
    os.environ["KERAS_BACKEND"] = backend
    import keras
    assert keras.backend.backend() == backend
    from densekit import initializers as di, constraints as dc, regularizers as dr

    def model():
        inputs = keras.Input((4,))
        x = keras.layers.Dense(3, kernel_initializer=di.HeNormal(seed=1),
                               bias_initializer=di.RandomUniform(-1.0, 1.0, seed=2))(inputs)
        x = keras.layers.Reshape((3, 1, 1))(x)
        x = keras.layers.Conv2D(2, (3, 1), kernel_initializer=di.GlorotUniform(seed=3))(x)
        return keras.Model(inputs, x)

    # Without densekit.keras, Keras swaps in its own HeNormal (the bug).
    swapped = keras.models.clone_model(model())
    assert type(swapped.layers[1].kernel_initializer).__module__.startswith("keras."), \
        type(swapped.layers[1].kernel_initializer)

    import densekit.keras
    names = densekit.keras.register()
    assert names["densekit>HeNormal"] is di.HeNormal

    m = model()
    dense, conv = m.layers[1], m.layers[3]
    expected = {
        "dense": di.HeNormal(seed=1)((4, 3)),
        "bias": di.RandomUniform(-1.0, 1.0, seed=2)((3,)),
        "conv": di.GlorotUniform(seed=3)((3, 1, 1, 2)),  # Keras' (h, w, in, out) fans
    }

    def check(model, how):
        d, c = model.layers[1], model.layers[3]
        assert type(d.kernel_initializer) is di.HeNormal, (how, type(d.kernel_initializer))
        assert type(d.bias_initializer) is di.RandomUniform, how
        assert type(c.kernel_initializer) is di.GlorotUniform, how
        assert np.array_equal(keras.ops.convert_to_numpy(d.kernel), expected["dense"]), how
        assert np.array_equal(keras.ops.convert_to_numpy(d.bias), expected["bias"]), how
        assert np.array_equal(keras.ops.convert_to_numpy(c.kernel), expected["conv"]), how

    check(m, "built")
    config = dense.get_config()["kernel_initializer"]
    assert config["registered_name"] == "densekit>HeNormal", config
    json.dumps(m.get_config())

    # clone_model re-creates the weights from the initializers' configs.
    check(keras.models.clone_model(m), "clone_model")
    check(keras.Model.from_config(m.get_config()), "from_config")
    seq = keras.Sequential([keras.Input((4,)), keras.layers.Dense(
        3, kernel_initializer=di.HeNormal(seed=1),
        bias_initializer=di.RandomUniform(-1.0, 1.0, seed=2))])
    seq_clone = keras.models.clone_model(seq)
    assert np.array_equal(keras.ops.convert_to_numpy(seq_clone.layers[0].kernel), expected["dense"])

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.keras")
        m.save(path)
        loaded = keras.models.load_model(path)
        check(loaded, "load_model")
        # ... and the loaded initializers still compute densekit's values.
        fresh = loaded.layers[1].kernel_initializer((4, 3))
        assert np.array_equal(np.asarray(fresh), expected["dense"])

    got = keras.initializers.get(keras.initializers.serialize(di.Orthogonal(gain=2.0, seed=5)))
    assert type(got) is di.Orthogonal and got.get_config() == {"gain": 2.0, "seed": 5}

    result = doctest.testmod(densekit.keras)
    assert result.failed == 0 and result.attempted >= 4, result

    if backend in ("jax", "torch"):
        x = np.random.default_rng(0).random((8, 4), dtype=np.float32)
        y = np.random.default_rng(1).random((8, 3), dtype=np.float32)
        cases = [
            ("kernel_regularizer", dr.L2(0.01), "is a densekit regularizer"),
        ]
        if backend == "jax":  # compiled train step: the constraint gets a tracer
            cases.append(("kernel_constraint", dc.MaxNorm(1.0), "numpy kernels for densekit models"))
        for arg, obj, message in cases:
            net = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, **{arg: obj})])
            net.compile("sgd", "mse")
            try:
                net.fit(x, y, epochs=1, verbose=0)
            except TypeError as exc:
                assert message in str(exc), str(exc)
            else:
                raise AssertionError(f"{arg}={obj!r} trained without an error")
    print("LIVE-OK")
    '''
)


@pytest.mark.keras
@pytest.mark.parametrize("backend", ["jax", "torch", "numpy"])
def test_live_keras_save_load_clone(backend, tmp_path):
    script = tmp_path / "live.py"
    script.write_text(_LIVE)
    env = dict(os.environ, KERAS_BACKEND=backend, PYTHONWARNINGS="ignore")
    proc = subprocess.run([sys.executable, str(script), backend], env=env,
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0 and "LIVE-OK" in proc.stdout, proc.stdout + proc.stderr
