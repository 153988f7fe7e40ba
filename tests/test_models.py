"""Sequential: building, forward/predict, weights, losses, summary text, config
and JSON round trips, and every bad input."""

import json
import warnings

import numpy as np
import pytest
import scipy.special
from numpy.testing import assert_allclose, assert_array_equal

from densekit import regularizers
from densekit.layers import Activation, Dense, Input, InputLayer, Layer
from densekit.layers import _fused as fused_module
from densekit.models import Sequential, model_from_json
from densekit.models import sequential as sequential_module

RNG = np.random.default_rng(99)


def INPUT_SHAPE_WARNS():
    """Keras 3's UserWarning for `input_shape`/`input_dim` given to a layer."""
    return pytest.warns(UserWarning, match="Do not pass an `input_shape`/`input_dim` argument")




def tutorial(names=None):
    names = names or [None, None, None]
    model = Sequential()
    with INPUT_SHAPE_WARNS():  # Keras 3 warns here too
        first = Dense(32, input_shape=(16,), kernel_initializer="he_uniform",
                      kernel_constraint="MaxNorm", activation="relu", name=names[0])
    model.add(first)
    model.add(Dense(16, activation="relu", name=names[1]))
    model.add(Dense(8, name=names[2]))
    return model


def numpy_forward(model, x):
    h = np.asarray(x, dtype=np.float64)
    for layer in model.layers:
        if isinstance(layer, Dense):
            h = h @ layer.kernel.astype(np.float64)
            if layer.bias is not None:
                h = h + layer.bias
            name = layer.get_config()["activation"]
        else:
            name = layer.get_config()["activation"]
        if name == "relu":
            h = np.maximum(h, 0)
        elif name == "softmax":
            e = np.exp(h - h.max(axis=-1, keepdims=True))
            h = e / e.sum(axis=-1, keepdims=True)
        elif name == "tanh":
            h = np.tanh(h)
        elif name == "gelu":
            h = 0.5 * h * (1 + scipy.special.erf(h / np.sqrt(2)))
        else:
            assert name == "linear"
    return h


def randomize(model):
    model.set_weights([RNG.standard_normal(w.shape) * 0.3 for w in model.weights])
    return model


# ---------------------------------------------------------------- building
def test_first_layer_with_input_shape_builds_at_once():
    model = tutorial()
    assert model.built
    assert [type(layer) for layer in model.layers] == [Dense, Dense, Dense]
    assert isinstance(model._layers[0], InputLayer)
    assert model._layers[0].batch_shape == (None, 16)
    assert model.count_params() == 1208
    assert [w.shape for w in model.weights] == [(16, 32), (32,), (32, 16), (16,), (16, 8), (8,)]


def test_input_dim_spelling():
    with INPUT_SHAPE_WARNS():
        model = Sequential([Dense(4, input_dim=3), Dense(1)])
    assert model.built and model._layers[0].batch_shape == (None, 3)
    with pytest.raises(ValueError, match="not both"):
        Dense(2, input_dim=3, input_shape=(3,))


def test_input_first_builds_and_layers_excludes_it():
    model = Sequential([Input(shape=(4,)), Dense(3), Activation("tanh")])
    assert model.built and len(model.layers) == 2
    assert model.count_params() == 15


def test_deferred_build_and_build_on_call():
    model = Sequential([Dense(3), Dense(2)])
    assert not model.built and model.weights == []
    with pytest.raises(ValueError, match="isn't built"):
        model.count_params()
    model.build((None, 5))
    assert model.built and model.count_params() == 18 + 8
    other = Sequential([Dense(3), Dense(2)])
    y = other(np.ones((4, 7)))
    assert y.shape == (4, 2) and other._layers[0].batch_shape == (None, 7)
    third = Sequential([Dense(3)])
    assert third.predict(np.ones((2, 6)), verbose=0).shape == (2, 3)


def test_add_pop():
    model = Sequential()
    model.add(Input((3,)))
    model.add(Dense(4))
    model.add(Dense(2))
    assert model.count_params() == 16 + 10
    popped = model.pop()
    assert isinstance(popped, Dense) and popped.units == 2
    assert len(model.layers) == 1 and model.built and model.count_params() == 16
    model.pop()
    assert model.layers == []
    with pytest.raises(TypeError, match="no layers"):
        model.pop()


def test_rank3_model():
    model = randomize(Sequential([Input((5, 4)), Dense(3, activation="relu"), Dense(2)]))
    x = RNG.standard_normal((6, 5, 4))
    y = model.predict(x, verbose=0)
    assert y.shape == (6, 5, 2)
    assert_allclose(y, numpy_forward(model, x), rtol=1e-5, atol=1e-5)
    assert_array_equal(model(x), y)


# ----------------------------------------------------------------- compute
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_call_and_predict_match_numpy(dtype):
    model = Sequential([Input((16,), dtype=dtype), Dense(32, activation="relu", dtype=dtype),
                        Dense(16, activation="tanh", dtype=dtype), Dense(8, dtype=dtype),
                        Activation("softmax", dtype=dtype)])
    randomize(model)
    x = RNG.standard_normal((1000, 16))
    ref = numpy_forward(model, x.astype(dtype))
    y = model.predict(x, verbose=0)
    assert y.dtype == np.dtype(dtype) and y.shape == (1000, 8)
    tol = 1e-5 if dtype == "float32" else 1e-12
    assert_allclose(y, ref, rtol=tol, atol=tol)
    assert_allclose(model(x), y, rtol=tol, atol=tol)


@pytest.mark.parametrize("batch_size", [1, 7, 32, 1000, None])
def test_predict_chunking_does_not_change_results(batch_size, monkeypatch):
    model = randomize(tutorial())
    x = RNG.standard_normal((777, 16)).astype(np.float32)
    whole = model(x)
    # tiny chunks, so that many chunks and a ragged last one are exercised
    monkeypatch.setattr(sequential_module, "_CHUNK_BYTES", 4096)
    y = model.predict(x, batch_size=batch_size, verbose=0)
    assert_allclose(y, whole, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("rows", [1, 3, 4, 5, 63, 64, 65, 1000, 4099])
def test_fused_predict_equals_layer_by_layer_exactly(dtype, rows, monkeypatch):
    model = randomize(Sequential([Input((16,), dtype=dtype),
                                  Dense(32, activation="relu", dtype=dtype),
                                  Dense(40, activation="gelu", dtype=dtype),
                                  Dense(7, activation="softmax", dtype=dtype)]))
    calls = []
    real = fused_module._dense.mlp_forward
    monkeypatch.setattr(fused_module._dense, "mlp_forward",
                        lambda *a: calls.append(1) or real(*a))
    x = RNG.standard_normal((rows, 16))
    y = model.predict(x, verbose=0)
    assert calls  # the whole stack ran as one fused kernel
    assert_array_equal(y, model(x))  # same bits as the layer-by-layer forward pass
    assert_allclose(y, numpy_forward(model, x.astype(dtype)), rtol=1e-5, atol=1e-6)
    monkeypatch.setattr(fused_module, "plan_mlp", lambda *a: None)
    assert_array_equal(model.predict(x, verbose=0), y)


@pytest.mark.parametrize("rows, n_threads, block", [
    (256, 2, 64), (256, 1, 256), (20, 2, 16), (5000, 2, 256), (300, 3, 50)])
def test_fused_predict_gives_every_thread_blocks(rows, n_threads, block, monkeypatch):
    # 64 features: the plan's cache-sized block is 256 rows; one block for two
    # threads left one of them idle
    model = randomize(Sequential([Input((64,)), Dense(64, activation="relu"), Dense(64)]))
    seen = []
    real = fused_module._dense.mlp_forward
    monkeypatch.setattr(fused_module._dense, "mlp_forward",
                        lambda *a: seen.append((a[-2], a[-1])) or real(*a))
    monkeypatch.setattr(fused_module, "threads_for", lambda work, n=None: n_threads)
    x = RNG.standard_normal((rows, 64)).astype(np.float32)
    y = model.predict(x, verbose=0, n_threads=n_threads)
    assert seen == [(block, n_threads)]
    assert_array_equal(y, model(x))


def test_predict_empty_and_single_row():
    model = randomize(tutorial())
    assert model.predict(np.empty((0, 16)), verbose=0).shape == (0, 8)
    x = RNG.standard_normal((1, 16))
    assert_allclose(model.predict(x, verbose=0), numpy_forward(model, x), rtol=1e-5, atol=1e-5)


def test_predict_thread_counts_agree(n_threads):
    model = randomize(tutorial())
    x = RNG.standard_normal((300, 16))
    assert_array_equal(model.predict(x, verbose=0, n_threads=n_threads),
                       model.predict(x, verbose=0, n_threads=1))


def test_predict_progress_output(capsys, monkeypatch):
    model = tutorial()
    x = np.zeros((100, 16), np.float32)
    model.predict(x, verbose=0)
    assert capsys.readouterr().err == ""
    model.predict(x, verbose="auto")  # one chunk: quiet
    assert capsys.readouterr().err == ""
    model.predict(x, verbose=2)
    assert "100/100 rows" in capsys.readouterr().err
    model.predict(x, verbose=1)
    err = capsys.readouterr().err
    assert "100/100 rows [" in err and err.endswith("\n")
    monkeypatch.setattr(sequential_module, "_AUTO_BAR_ROWS", 100)
    model.predict(x, verbose="auto")  # a long run: a bar
    assert "100/100 rows" in capsys.readouterr().err
    general = Sequential([Input((16,)), Dense(4), Activation("relu")])  # the layer-by-layer path
    monkeypatch.setattr(sequential_module, "_CHUNK_BYTES", 1024)
    general.predict(x, verbose=1)
    assert "100/100 rows [" in capsys.readouterr().err


def test_predict_with_tqdm(capsys):
    pytest.importorskip("tqdm")
    model = tutorial()
    model.predict(np.zeros((50, 16)), verbose=1)
    assert "50/50" in capsys.readouterr().err


# ----------------------------------------------------------------- weights
def test_get_set_weights_all_or_nothing():
    model = tutorial()
    weights = model.get_weights()
    assert len(weights) == 6
    new = [np.full(w.shape, i, np.float32) for i, w in enumerate(weights)]
    model.set_weights(new)
    for a, b in zip(model.weights, new):
        assert_array_equal(a, b)
    before = model.get_weights()
    bad = [w.copy() for w in new]
    bad[5] = np.ones(9)
    with pytest.raises(ValueError, match="weight shape"):
        model.set_weights(bad)
    with pytest.raises(ValueError, match="weight list of length 5"):
        model.set_weights(new[:5])
    for a, b in zip(model.get_weights(), before):
        assert_array_equal(a, b)


def test_apply_constraints():
    model = tutorial()
    model.set_weights([np.full(w.shape, 1.0) for w in model.weights])
    model.apply_constraints()
    # MaxNorm(2) on the first kernel's columns of norm 4; other layers untouched
    assert_allclose(model.layers[0].kernel, np.full((16, 32), 2.0 / (4.0 + 1e-7)), rtol=1e-6)
    assert_array_equal(model.layers[1].kernel, np.ones((32, 16)))


def test_trainable_flags():
    model = tutorial()
    model.layers[1].trainable = False
    assert len(model.trainable_weights) == 4 and len(model.non_trainable_weights) == 2
    model.trainable = False
    assert model.trainable_weights == [] and len(model.non_trainable_weights) == 6


def test_losses_order_activity_then_weights():
    model = Sequential([Input((2,)),
                        Dense(2, kernel_regularizer=regularizers.L2(1.0), kernel_initializer="ones",
                              activity_regularizer=regularizers.L1(1.0)),
                        Dense(1, kernel_regularizer=regularizers.L1(2.0), kernel_initializer="ones",
                              activity_regularizer=regularizers.L1(1.0))])
    assert model.losses == pytest.approx([4.0, 4.0])
    x = np.array([[1.0, 2.0], [3.0, -1.0]])
    model(x)
    # layer 1: y = [[3, 3], [2, 2]] -> |y| sum 10 / 2; layer 2: [[6], [4]] -> 10 / 2
    assert model.losses == pytest.approx([5.0, 5.0, 4.0, 4.0])


# ----------------------------------------------------------------- summary
TUTORIAL_SUMMARY_76 = """\
Model: "sequential_1"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ dense_2 (Dense)                 │ (None, 32)             │           544 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_3 (Dense)                 │ (None, 16)             │           528 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_4 (Dense)                 │ (None, 8)              │           136 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 1,208 (4.72 KB)
 Trainable params: 1,208 (4.72 KB)
 Non-trainable params: 0 (0.00 B)"""

UNBUILT_SUMMARY_88 = """\
Model: "m"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━┓
┃ Layer (type)                         ┃ Output Shape                ┃         Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━┩
│ a (Dense)                            │ ?                           │     0 (unbuilt) │
├──────────────────────────────────────┼─────────────────────────────┼─────────────────┤
│ b (Activation)                       │ ?                           │     0 (unbuilt) │
└──────────────────────────────────────┴─────────────────────────────┴─────────────────┘
 Total params: 0 (0.00 B)
 Trainable params: 0 (0.00 B)
 Non-trainable params: 0 (0.00 B)"""


def tutorial_named():
    model = tutorial(["dense_2", "dense_3", "dense_4"])
    model.name = "sequential_1"
    return model


def test_summary_exact_text():
    lines = []
    tutorial_named().summary(line_length=76, print_fn=lines.append)
    assert lines == TUTORIAL_SUMMARY_76.split("\n")


def test_summary_default_width_follows_terminal(monkeypatch, capsys):
    model = Sequential([Dense(3, name="a"), Activation("relu", name="b")], name="m")
    monkeypatch.setenv("COLUMNS", "200")
    model.summary()
    assert capsys.readouterr().out == UNBUILT_SUMMARY_88 + "\n"
    monkeypatch.setenv("COLUMNS", "80")
    lines = []
    tutorial_named().summary(print_fn=lines.append)
    assert lines == TUTORIAL_SUMMARY_76.split("\n")


def test_summary_float64_sizes_and_rank3_shapes():
    model = Sequential([Input((4, 5), dtype="float64"), Dense(3, dtype="float64", name="a"),
                        Dense(1200, name="b")], name="s")
    lines = []
    model.summary(line_length=76, print_fn=lines.append)
    assert "│ a (Dense)                       │ (None, 4, 3)           │            18 │" in lines
    assert "│ b (Dense)                       │ (None, 4, 1200)        │         4,800 │" in lines
    # 18 float64 (144 B) + 4800 float32 (19200 B) = 19344 B = 18.89 KB
    assert lines[-3] == " Total params: 4,818 (18.89 KB)"


def test_summary_bad_width():
    with pytest.raises(ValueError, match="Insufficient console width"):
        tutorial().summary(line_length=8)


@pytest.mark.keras
def test_summary_matches_keras(monkeypatch, keras):
    monkeypatch.setenv("COLUMNS", "200")  # rich would crop Keras' lines at 80 columns
    cases = [
        ("sequential_1", [(32, "dense_2"), (16, "dense_3"), (8, "dense_4")], 88),
        ("tiny", [(3, "a_rather_long_layer_name_that_wraps_around"), (1_234_567, "wide")], 60),
        ("words", [(3, "two words here and there and more"), (5, "x")], 60),
        ("cut", [(3, "abcdefghijklmnopqrstuvwxy")], 60),
        ("narrow", [(7, "d")], 40),
        ("empty", [], 40),
    ]
    for model_name, spec, width in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            km = keras.Sequential(
                [keras.Input((16,))] + [keras.layers.Dense(u, name=n) for u, n in spec],
                name=model_name,
            )
            captured = []
            km.summary(line_length=width, print_fn=lambda s, **k: captured.append(s))
        ours = Sequential([Input((16,))] + [Dense(u, name=n) for u, n in spec], name=model_name)
        lines = []
        ours.summary(line_length=width, print_fn=lines.append)
        assert lines == captured[0].rstrip("\n").split("\n")


# ------------------------------------------------------------------ config
def test_config_roundtrip_with_build_input_shape():
    model = randomize(tutorial())
    config = model.get_config()
    assert config["build_input_shape"] == (None, 16)
    assert [c["class_name"] for c in config["layers"]] == ["InputLayer", "Dense", "Dense", "Dense"]
    clone = Sequential.from_config(config)
    assert clone.built and clone.count_params() == 1208
    assert clone.get_config() == config
    clone.set_weights(model.get_weights())
    x = RNG.standard_normal((5, 16))
    assert_array_equal(clone.predict(x, verbose=0), model.predict(x, verbose=0))


def test_config_of_unbuilt_model():
    model = Sequential([Dense(3, activation="relu"), Activation("softmax")], name="u")
    config = model.get_config()
    assert "build_input_shape" not in config
    clone = Sequential.from_config(config)
    assert not clone.built and clone.name == "u" and len(clone.layers) == 2


def test_json_roundtrip():
    model = tutorial()
    text = model.to_json()
    record = json.loads(text)
    assert record["class_name"] == "Sequential" and record["config"]["build_input_shape"] == [None, 16]
    clone = model_from_json(text)
    assert clone.built and clone.count_params() == 1208
    assert json.loads(clone.to_json()) == record
    assert clone.layers[0].kernel_constraint.get_config() == {"max_value": 2, "axis": 0}


@pytest.mark.keras
def test_model_from_keras_json(keras):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        km = keras.Sequential([keras.Input((16,)),
                               keras.layers.Dense(32, activation="relu", kernel_initializer="he_uniform",
                                                  kernel_constraint="MaxNorm"),
                               keras.layers.Dense(8), keras.layers.Activation("softmax")])
        text = km.to_json()
    model = model_from_json(text)
    assert model.built and model.count_params() == km.count_params()
    assert [type(layer).__name__ for layer in model.layers] == ["Dense", "Dense", "Activation"]


def test_bad_json():
    with pytest.raises(ValueError, match="not valid JSON"):
        model_from_json("{nope")
    with pytest.raises(ValueError, match="only rebuild Sequential"):
        model_from_json(json.dumps({"class_name": "Functional", "config": {}}))
    with pytest.raises(ValueError, match="'name' and 'layers'"):
        Sequential.from_config({"layers": []})


# --------------------------------------------------------------- bad input
def test_add_non_layer():
    model = Sequential()
    with pytest.raises(ValueError, match="Only instances of `densekit.layers.Layer` can be added"):
        model.add("dense")
    with pytest.raises(ValueError, match="Only instances"):
        Sequential([np.ones(3)])
    with pytest.raises(ValueError, match="must be a list of layers"):
        Sequential(Dense(3))


def test_duplicate_names_and_second_input():
    model = Sequential([Input((3,)), Dense(2, name="same")])
    with pytest.raises(ValueError, match="should have unique names. Name 'same'"):
        model.add(Dense(2, name="same"))
    with pytest.raises(ValueError, match=r"already been configured to use input shape \(None, 3\)"):
        model.add(Input((3,)))
    deferred = Sequential([Dense(2)])
    with pytest.raises(ValueError, match="only be the first layer"):
        deferred.add(Input((3,)))


def test_empty_model_errors():
    model = Sequential(name="empty")
    with pytest.raises(ValueError, match="Sequential model empty cannot be built because it has "
                       "no layers"):
        model.build((None, 3))
    with pytest.raises(ValueError, match="cannot be built because it has no layers"):
        model.predict(np.ones((2, 3)))
    with pytest.raises(ValueError, match="cannot be built because it has no layers"):
        model(np.ones((2, 3)))
    with pytest.raises(ValueError, match="cannot be built"):
        Sequential([Input((3,))]).build()


def test_bad_inputs_to_built_model():
    model = tutorial()
    with pytest.raises(ValueError, match="expected min_ndim=2, found ndim=1"):
        model.predict(np.ones(16))
    with pytest.raises(ValueError, match=r"expected shape=\(None, 16\), found shape=\(2, 10\)"):
        model.predict(np.ones((2, 10)))
    with pytest.raises(ValueError, match="found shape"):
        model(np.ones((2, 4, 16)))
    with pytest.raises(TypeError, match="real numbers"):
        model.predict(np.ones((2, 16), dtype=complex))
    with pytest.raises(ValueError, match="build it with input_shape"):
        model.build((None, 5))


@pytest.mark.parametrize("batch_size", [0, -1, 2.0, "32", True])
def test_bad_batch_size(batch_size):
    with pytest.raises(ValueError, match="batch_size"):
        tutorial().predict(np.ones((2, 16)), batch_size=batch_size)


@pytest.mark.parametrize("verbose", [3, "yes", -1, True])
def test_bad_verbose(verbose):
    with pytest.raises(ValueError, match="verbose"):
        tutorial().predict(np.ones((2, 16)), verbose=verbose)


def test_prebuilt_layer_with_wrong_input_dim():
    layer = Dense(3)
    layer.build((None, 5))
    model = Sequential([layer])
    with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 5"):
        model.build((None, 4))


def test_custom_layer_in_model_and_config():
    class Double(Layer):
        def call(self, x, n_threads):
            return x * 2

    model = Sequential([Input((3,)), Double(name="double"), Dense(2, kernel_initializer="ones")])
    assert_array_equal(model.predict(np.ones((2, 3)), verbose=0), np.full((2, 2), 6.0))
    config = model.get_config()
    with pytest.raises(ValueError, match="Unknown layer: 'Double'"):
        Sequential.from_config(config)
    clone = Sequential.from_config(config, custom_objects={"Double": Double})
    assert isinstance(clone.layers[0], Double)


@pytest.mark.parametrize("shape", ["abc", (None, -3), (None, 2.5), None, (None, None), (5,)])
def test_bad_build_shapes(shape):
    model = Sequential([Dense(2)])
    with pytest.raises(ValueError):
        model.build(shape)
    assert not model.built and len(model._layers) == 1
    model.build((None, 3))  # a failed build leaves no trace
    assert model.count_params() == 8


def test_bad_model_arguments():
    with pytest.raises(ValueError, match="name"):
        Sequential(name=3)
    with pytest.raises(ValueError, match="name"):
        Sequential(name="")


# ------------------------------------------------- issue 10: Keras fidelity, races
def test_input_and_output_shape_as_keras():
    # Issue 10.19
    model = Sequential([Input(shape=(16,)), Dense(32), Activation("relu"), Dense(8)])
    assert model.input_shape == (None, 16)
    assert model.output_shape == (None, 8)
    deferred = Sequential([Dense(3), Dense(2)], name="deferred")
    with pytest.raises(ValueError, match=r"^Sequential model 'deferred' has no defined input "
                                         r"shape yet.$"):
        deferred.input_shape
    with pytest.raises(ValueError, match=r"^Sequential model 'deferred' has no defined output "
                                         r"shape yet.$"):
        deferred.output_shape
    deferred.build((None, 4, 5))
    assert deferred.input_shape == (None, 4, 5)
    assert deferred.output_shape == (None, 4, 2)


def test_get_layer_by_name_and_index_with_keras_errors():
    model = Sequential([Input(shape=(4,)), Dense(3, name="a"), Dense(2, name="b")])
    assert model.get_layer("a") is model.layers[0]
    assert model.get_layer(name="b") is model.layers[1]
    assert model.get_layer(index=0) is model.layers[0]  # InputLayer is not counted
    assert model.get_layer(index=-1) is model.layers[1]
    with pytest.raises(ValueError, match=r"^No such layer: c. Existing layers are: "
                                         r"\['a', 'b'\].$"):
        model.get_layer("c")
    with pytest.raises(ValueError, match=r"^Was asked to retrieve layer at index 2 but model "
                                         r"only has 2 layers.$"):
        model.get_layer(index=2)
    with pytest.raises(ValueError, match="at index -3 but model only has 2 layers"):
        model.get_layer(index=-3)
    with pytest.raises(ValueError, match=r"^Provide only a layer name or a layer index. "
                                         r"Received: index=0, name=a.$"):
        model.get_layer("a", 0)
    with pytest.raises(ValueError, match=r"^Provide either a layer name or layer index at "
                                         r"`get_layer`.$"):
        model.get_layer()
    with pytest.raises(TypeError, match="`index` must be an integer"):
        model.get_layer(index=1.0)


def test_unknown_keyword_to_sequential_is_a_type_error_as_in_keras():
    # Keras 3's Sequential.__init__(layers=None, trainable=True, name=None) has no
    # **kwargs, so Python's TypeError is what Keras raises too.
    with pytest.raises(TypeError, match="unexpected keyword argument 'foo'"):
        Sequential([Dense(2)], foo=1)


def test_unknown_keyword_to_a_layer_in_a_model_config_is_a_value_error():
    config = Sequential([Input(shape=(3,)), Dense(2)]).get_config()
    config["layers"][1]["config"]["bogus"] = 1
    with pytest.raises(ValueError, match=r"Unrecognized keyword arguments passed to Dense: "
                                         r"\{'bogus': 1\}"):
        Sequential.from_config(config)


@pytest.mark.parametrize("entry", ["call", "predict"])
def test_concurrent_first_calls_build_the_model_once(entry):
    # Issue 10.5, for the model: concurrent first calls of an unbuilt Sequential built
    # its layers several times and could insert several InputLayers.
    import threading
    import time

    from densekit import initializers

    calls = []

    def slow_init(shape, dtype=None):
        calls.append(shape)
        time.sleep(0.05)
        return initializers.GlorotUniform(seed=len(calls))(shape, dtype)

    model = Sequential([Dense(4, kernel_initializer=slow_init), Dense(2)])
    x = np.ones((3, 5), np.float32)
    start = threading.Barrier(8)
    results, errors = [None] * 8, []

    def work(i):
        start.wait()
        try:
            results[i] = model(x) if entry == "call" else model.predict(x, verbose=0)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert calls == [(5, 4)]
    assert sum(isinstance(layer, InputLayer) for layer in model._layers) == 1
    assert model.count_params() == 4 * 5 + 4 + 2 * 4 + 2
    for r in results:
        assert_array_equal(r, results[0])


def test_models_still_pickle_and_deepcopy():
    import copy
    import pickle

    model = Sequential([Input(shape=(3,)), Dense(2)])
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert_array_equal(clone.predict(np.ones((1, 3)), verbose=0),
                           model.predict(np.ones((1, 3)), verbose=0))
        clone.build((None, 3))


# ------------------------------------------------------------ predict latency (issue 13)
def test_predict_plan_cache_follows_new_weights():
    model = Sequential([Input((16,)), Dense(32, activation="relu"), Dense(8)])
    x = RNG.standard_normal((5, 16)).astype(np.float32)
    first = model.predict(x, verbose=0)
    model.set_weights([w * 2 for w in model.get_weights()])
    assert_array_equal(model.predict(x, verbose=0), model(x))
    assert not np.array_equal(model.predict(x, verbose=0), first)
    model.layers[0].build((None, 16))  # new arrays: the old plan must not be reused
    assert_array_equal(model.predict(x, verbose=0), model(x))


@pytest.mark.parametrize("rows", [1, 32, 33, 1000])
def test_predict_wide_layers_equals_call(rows):
    # kernels larger than the direct row kernel: the layer-by-layer latency path
    # for small inputs and the chunked loop for large ones give model(x)'s bits
    model = Sequential([Input((70,)), Dense(90, activation="relu"),
                        Dense(80, activation="relu"), Dense(10)])
    x = RNG.standard_normal((rows, 70)).astype(np.float32)
    assert_array_equal(model.predict(x, verbose=0), model(x))
    assert_array_equal(model.predict(x, batch_size=7, verbose=0), model(x))


@pytest.mark.parametrize("batch_size", [7, 1000])
def test_predict_in_one_chunk_or_many_equals_call(batch_size, monkeypatch):
    # an input above the chunk size: batch_size=1000 makes the whole input one chunk
    # (each layer's output allocated as the layer runs), 7 makes many reused buffers
    model = randomize(Sequential([Input((70,)), Dense(40, activation="relu"),
                                  Activation("tanh"), Dense(90)]))
    x = RNG.standard_normal((1000, 70)).astype(np.float32)
    monkeypatch.setattr(sequential_module, "_CHUNK_BYTES", 4096)
    forwards = []
    real = Dense._forward
    monkeypatch.setattr(Dense, "_forward",
                        lambda self, h, out, n: forwards.append(out.shape[0]) or real(self, h, out, n))
    y = model.predict(x, batch_size=batch_size, verbose=0)
    assert_array_equal(y, model(x))
    assert y.shape == (1000, 90) and y.dtype == np.float32
    assert (max(forwards) == 1000) == (batch_size == 1000)
