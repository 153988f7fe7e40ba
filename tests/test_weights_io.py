"""Weight files: Keras 3's `.weights.h5` layout and `.npz`, round trips, files
written by real Keras (a committed fixture, and live Keras when installed), and
mismatches that must leave the model unchanged."""

import pathlib
import sys
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from densekit.layers import Activation, Dense, Input
from densekit.models import Sequential

DATA = pathlib.Path(__file__).parent / "data"
RNG = np.random.default_rng(7)

# tests/data/tutorial.weights.h5 was written by Keras 3.15.1 (KERAS_BACKEND=numpy):
#   keras.utils.set_random_seed(0); model = the tutorial's 16->32->16->8 Sequential;
#   each bias set to np.linspace(-0.5, 0.5, units); model.save_weights(...)
# tests/data/tutorial_keras_predict.npy is Keras' model.predict(x) for
#   x = np.linspace(-2, 2, 64, dtype='float32').reshape(4, 16).
KERAS_X = np.linspace(-2, 2, 4 * 16, dtype="float32").reshape(4, 16)


def tutorial(dtype=None):
    model = Sequential()
    with pytest.warns(UserWarning, match="Do not pass an `input_shape`/`input_dim` argument"):  # as Keras 3 does
        model.add(Dense(32, input_shape=(16,), kernel_initializer="he_uniform",
                        kernel_constraint="MaxNorm", activation="relu", dtype=dtype))
    model.add(Dense(16, activation="relu", dtype=dtype))
    model.add(Dense(8, dtype=dtype))
    return model


def randomized(model):
    model.set_weights([RNG.standard_normal(w.shape) for w in model.weights])
    return model


def assert_same_weights(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert_array_equal(x, y)


@pytest.fixture
def h5py():
    return pytest.importorskip("h5py")




# -------------------------------------------------------------- round trips
@pytest.mark.parametrize("suffix", [".weights.h5", ".npz"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_roundtrip(tmp_path, suffix, dtype, request):
    if suffix.endswith("h5"):
        request.getfixturevalue("h5py")
    model = randomized(tutorial(dtype))
    path = tmp_path / f"m{suffix}"
    model.save_weights(path)
    other = tutorial(dtype)
    other.load_weights(str(path))
    assert_same_weights(other.get_weights(), model.get_weights())
    assert all(w.dtype == np.dtype(dtype) for w in other.weights)
    x = RNG.standard_normal((3, 16))
    assert_array_equal(other.predict(x, verbose=0), model.predict(x, verbose=0))


def test_load_casts_to_the_model_dtype(tmp_path):
    model = randomized(tutorial("float64"))
    model.save_weights(tmp_path / "m.npz")
    other = tutorial("float32")
    kernel = other.layers[0].kernel
    other.load_weights(tmp_path / "m.npz")
    assert other.layers[0].kernel is kernel and kernel.dtype == np.float32
    assert_allclose(kernel, model.layers[0].kernel, rtol=1e-7)


def test_h5_layout_is_keras(tmp_path, h5py):
    model = Sequential([Input((5,)), Dense(3, name="foo"), Activation("relu", name="bar"),
                        Dense(2, use_bias=False, name="baz")], name="net")
    randomized(model)
    path = tmp_path / "n.weights.h5"
    model.save_weights(path)
    found = {}
    with h5py.File(path, "r") as f:
        assert dict(f.attrs) == {}
        f.visititems(lambda name, obj: found.__setitem__(
            name, (type(obj).__name__, dict(obj.attrs), getattr(obj, "shape", None))))
    assert found == {
        "layers": ("Group", {}, None),
        "layers/activation": ("Group", {}, None),
        "layers/activation/vars": ("Group", {"name": "bar"}, None),
        "layers/dense": ("Group", {}, None),
        "layers/dense/vars": ("Group", {"name": "foo"}, None),
        "layers/dense/vars/0": ("Dataset", {}, (5, 3)),
        "layers/dense/vars/1": ("Dataset", {}, (3,)),
        "layers/dense_1": ("Group", {}, None),
        "layers/dense_1/vars": ("Group", {"name": "baz"}, None),
        "layers/dense_1/vars/0": ("Dataset", {}, (3, 2)),
        "vars": ("Group", {"name": "net"}, None),
    }
    with h5py.File(path, "r") as f:
        assert_array_equal(f["layers/dense/vars/0"][()], model.layers[0].kernel)
        assert_array_equal(f["layers/dense/vars/1"][()], model.layers[0].bias)


def test_npz_layout(tmp_path):
    model = randomized(tutorial())
    model.save_weights(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as z:
        assert sorted(z.files) == sorted(
            f"layers/{g}/vars/{i}" for g in ("dense", "dense_1", "dense_2") for i in (0, 1))
        assert_array_equal(z["layers/dense_1/vars/0"], model.layers[1].kernel)


def test_file_names_do_not_depend_on_layer_names(tmp_path):
    a = randomized(tutorial())
    a.save_weights(tmp_path / "a.npz")
    b = Sequential([Input((16,)), Dense(32, name="x1"), Dense(16, name="x2"), Dense(8, name="x3")])
    b.load_weights(tmp_path / "a.npz")
    assert_same_weights(b.get_weights(), a.get_weights())


# -------------------------------------------------------------- real Keras
def test_loads_committed_keras_file(h5py):
    model = tutorial()
    model.load_weights(DATA / "tutorial.weights.h5")
    assert_allclose(model.layers[2].bias, np.linspace(-0.5, 0.5, 8), rtol=1e-6)
    expected = np.load(DATA / "tutorial_keras_predict.npy")
    assert_allclose(model.predict(KERAS_X, verbose=0), expected, rtol=1e-5, atol=1e-5)


def test_keras_file_roundtrips_byte_for_byte_in_values(tmp_path, h5py):
    model = tutorial()
    model.load_weights(DATA / "tutorial.weights.h5")
    model.save_weights(tmp_path / "again.weights.h5")
    with h5py.File(DATA / "tutorial.weights.h5", "r") as a, \
            h5py.File(tmp_path / "again.weights.h5", "r") as b:
        names_a, names_b = [], []
        a.visit(names_a.append)
        b.visit(names_b.append)
        assert names_a == names_b
        for name in names_a:
            if isinstance(a[name], h5py.Dataset):
                assert a[name].dtype == b[name].dtype
                assert_array_equal(a[name][()], b[name][()])


@pytest.mark.keras
def test_live_keras_both_directions(tmp_path, keras):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        km = keras.Sequential([keras.Input((16,)),
                               keras.layers.Dense(32, activation="relu"),
                               keras.layers.Dense(16, activation="relu"),
                               keras.layers.Dense(8), keras.layers.Activation("softmax")])
        km.set_weights([RNG.standard_normal(w.shape) * 0.3 for w in km.get_weights()])
        km.save_weights(tmp_path / "k.weights.h5")
        x = RNG.standard_normal((6, 16)).astype(np.float32)
        expected = km.predict(x, verbose=0)
    ours = Sequential([Input((16,)), Dense(32, activation="relu"), Dense(16, activation="relu"),
                       Dense(8), Activation("softmax")])
    ours.load_weights(tmp_path / "k.weights.h5")
    assert_allclose(ours.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    # and back: densekit writes, Keras reads
    randomized(ours)
    ours.save_weights(tmp_path / "d.weights.h5")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        km.load_weights(tmp_path / "d.weights.h5")
        back = km.predict(x, verbose=0)
    assert_allclose(back, ours.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


# -------------------------------------------------------------- mismatches
def mismatched_models():
    return {
        "wider": Sequential([Input((16,)), Dense(33), Dense(16), Dense(8)]),
        "input": Sequential([Input((15,)), Dense(32), Dense(16), Dense(8)]),
        "shorter": Sequential([Input((16,)), Dense(32), Dense(16)]),
        "longer": Sequential([Input((16,)), Dense(32), Dense(16), Dense(8), Dense(2)]),
        "no_bias": Sequential([Input((16,)), Dense(32), Dense(16), Dense(8, use_bias=False)]),
        "last_bias_only_wrong": Sequential([Input((16,)), Dense(32), Dense(16), Dense(9)]),
    }


@pytest.mark.parametrize("case", list(mismatched_models()))
@pytest.mark.parametrize("suffix", [".weights.h5", ".npz"])
def test_mismatch_raises_and_keeps_weights(tmp_path, case, suffix, request):
    if suffix.endswith("h5"):
        request.getfixturevalue("h5py")
    source = randomized(tutorial())
    path = tmp_path / f"m{suffix}"
    source.save_weights(path)
    target = randomized(mismatched_models()[case])
    before = target.get_weights()
    with pytest.raises(ValueError, match="does not match the architecture.*left unchanged"):
        target.load_weights(path)
    assert_same_weights(target.get_weights(), before)


def test_bad_paths_and_states(tmp_path):
    model = tutorial()
    with pytest.raises(ValueError, match=r"must end in `.weights.h5`"):
        model.save_weights(tmp_path / "m.h5")
    with pytest.raises(ValueError, match=r"must end in `.weights.h5`"):
        model.save_weights(tmp_path / "m.keras")
    with pytest.raises(ValueError, match=r"must end in `.weights.h5`"):
        model.load_weights(tmp_path / "m.txt")
    with pytest.raises(TypeError, match="filepath"):
        model.save_weights(3)
    with pytest.raises(FileNotFoundError):
        model.load_weights(tmp_path / "missing.npz")
    unbuilt = Sequential([Dense(3)])
    with pytest.raises(ValueError, match="not yet been built"):
        unbuilt.save_weights(tmp_path / "u.npz")
    with pytest.raises(ValueError, match="not yet been built"):
        unbuilt.load_weights(tmp_path / "u.npz")


def test_foreign_npz_rejected(tmp_path):
    np.savez(tmp_path / "x.npz", kernel=np.ones((16, 32)))
    model = tutorial()
    with pytest.raises(ValueError, match="not a densekit weights file"):
        model.load_weights(tmp_path / "x.npz")


def test_legacy_keras2_h5_rejected(tmp_path, h5py):
    with h5py.File(tmp_path / "old.h5", "w") as f:
        f.attrs["layer_names"] = [b"dense"]
    with pytest.raises(ValueError, match="legacy Keras 2"):
        tutorial().load_weights(tmp_path / "old.h5")


def test_missing_h5py_gives_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r"requires h5py.*densekit\[h5\]"):
        tutorial().save_weights(tmp_path / "m.weights.h5")
    assert not (tmp_path / "m.weights.h5").exists()
