"""Dense, Activation, InputLayer and the Layer base: values against a float64
numpy reference with the same weights, the fused and unfused paths, config,
losses, constraints and every bad input."""

import functools
import json

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from densekit import activations, constraints, initializers, regularizers
from densekit._lib import _dense
from densekit.layers import Activation, Dense, Input, InputLayer, Layer
from densekit.layers import deserialize, serialize

RNG = np.random.default_rng(1234)


def reference(x, kernel, bias, activation=None):
    """float64 numpy reference of Dense."""
    y = np.asarray(x, dtype=np.float64) @ kernel.astype(np.float64)
    if bias is not None:
        y = y + bias.astype(np.float64)
    if activation is not None:
        y = np.asarray(activation(y), dtype=np.float64)
    return y


def random_dense(units, input_dim, dtype="float32", **kwargs):
    layer = Dense(units, dtype=dtype, **kwargs)
    layer.build((None, input_dim))
    weights = [RNG.standard_normal(w.shape) for w in layer.weights]
    layer.set_weights(weights)
    return layer


# ------------------------------------------------------------------ values
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("shape", [(7, 5), (3, 4, 5), (2, 3, 2, 5), (0, 5)])
def test_dense_matches_numpy(dtype, use_bias, shape):
    layer = random_dense(6, 5, dtype=dtype, use_bias=use_bias)
    x = RNG.standard_normal(shape)
    y = layer(x)
    assert y.dtype == np.dtype(dtype)
    assert y.shape == shape[:-1] + (6,)
    ref = reference(x.astype(dtype), layer.kernel, layer.bias)
    assert_allclose(y, ref, rtol=1e-5 if dtype == "float32" else 1e-12, atol=1e-5 if dtype == "float32" else 1e-12)
    if not use_bias:
        assert layer.bias is None and len(layer.weights) == 1


def test_dense_rank3_equals_flattened_rows():
    layer = random_dense(4, 3)
    x = RNG.standard_normal((5, 6, 3)).astype(np.float32)
    assert_array_equal(layer(x), layer(x.reshape(30, 3)).reshape(5, 6, 4))


@pytest.mark.parametrize("order", ["C", "F", "strided", "readonly", "int", "list"])
def test_dense_input_layouts(order):
    layer = random_dense(3, 4)
    base = RNG.standard_normal((6, 4)).astype(np.float32)
    expected = layer(base)
    if order == "C":
        x = base.copy()
    elif order == "F":
        x = np.asfortranarray(base)
    elif order == "strided":
        x = np.repeat(base, 2, axis=0)[::2]
    elif order == "readonly":
        x = base.copy()
        x.flags.writeable = False
    elif order == "int":
        x = np.arange(24).reshape(6, 4)
        expected = layer(x.astype(np.float32))
    else:
        x = base.tolist()
    before = np.array(x, copy=True)
    assert_array_equal(layer(x), expected)
    assert_array_equal(np.asarray(x), before)  # the caller's input is untouched


def test_float64_input_is_cast_to_layer_dtype():
    layer = random_dense(3, 4)
    x = RNG.standard_normal((5, 4))
    y = layer(x)
    assert y.dtype == np.float32
    assert_array_equal(y, layer(x.astype(np.float32)))
    layer64 = random_dense(3, 4, dtype="float64")
    assert layer64(x.astype(np.float32)).dtype == np.float64


def test_dense_zero_input_dim():
    layer = Dense(3, bias_initializer=initializers.Constant(2.0))
    y = layer(np.zeros((4, 0), np.float32))
    assert_array_equal(y, np.full((4, 3), 2.0, np.float32))


def test_n_threads_give_identical_output(n_threads):
    layer = random_dense(33, 17, activation="gelu")
    x = RNG.standard_normal((257, 17)).astype(np.float32)
    assert_array_equal(layer(x, n_threads=n_threads), layer(x, n_threads=1))
    layer.n_threads = n_threads
    assert_array_equal(layer(x), layer(x, n_threads=1))


# Every public activation through Dense: the fused kernel (when there is one)
# and the unfused path (a wrapper densekit cannot see through) agree with the
# activations module applied to x @ W + b.
_ALL_ACTIVATIONS = sorted(
    name
    for name in activations.ALL_OBJECTS_DICT
    # glu changes the last axis, threshold has required parameters: tested below
    if name not in ("glu", "threshold")
)


@pytest.mark.parametrize("name", _ALL_ACTIVATIONS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_activation_fused_and_unfused(name, dtype):
    fn = activations.get(name)
    fused = Dense(8, activation=name, dtype=dtype)
    fused.build((None, 6))
    fused.set_weights([RNG.standard_normal((6, 8)) * 0.7, RNG.standard_normal(8)])
    unfused = Dense(8, activation=lambda z: fn(z), dtype=dtype)
    unfused.build((None, 6))
    unfused.set_weights(fused.get_weights())
    assert activations.fused_code(unfused.activation) is None
    x = RNG.standard_normal((11, 6)).astype(dtype)
    expected = fn((x @ fused.kernel) + fused.bias)
    y = fused(x)
    rtol = 1e-5 if dtype == "float32" else 1e-12
    assert_allclose(y, expected, rtol=rtol, atol=rtol)
    assert_allclose(unfused(x), expected, rtol=rtol, atol=rtol)
    # and against float64 numpy: the float32 result is the float64 one to 1e-5
    ref = np.asarray(fn(reference(x, fused.kernel, fused.bias)), dtype=np.float64)
    assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


def test_activation_with_parameters_is_fused():
    act = functools.partial(activations.relu, max_value=1.0, negative_slope=0.1)
    layer = random_dense(5, 4, activation=act)
    assert layer._fused is not None
    x = RNG.standard_normal((9, 4)).astype(np.float32) * 3
    z = reference(x, layer.kernel, layer.bias)
    expected = np.where(z > 0, np.minimum(z, 1.0), 0.1 * z)
    assert_allclose(layer(x), expected, rtol=1e-5, atol=1e-6)


def test_threshold_partial_is_fused():
    act = functools.partial(activations.threshold, threshold=0.1, default_value=-1.0)
    layer = random_dense(5, 4, activation=act)
    assert layer._fused is not None
    x = RNG.standard_normal((9, 4)).astype(np.float32)
    z = reference(x, layer.kernel, layer.bias)
    assert_allclose(layer(x), np.where(z > 0.1, z, -1.0), rtol=1e-5, atol=1e-6)


def test_fused_form_describes_the_layer():
    layer = Dense(5, activation=functools.partial(activations.leaky_relu, negative_slope=0.3))
    assert layer.fused_form() is None  # unbuilt
    layer.build((None, 4))
    form = layer.fused_form()
    assert form.kernel is layer.kernel and form.bias is layer.bias
    assert (form.code, form.params) == (layer._fused[0], (0.3, 0.0, 0.0))
    assert random_dense(3, 2, use_bias=False).fused_form().bias is None
    assert random_dense(3, 2, activation=lambda z: z).fused_form() is None  # opaque callable

    class Scaled(Dense):  # a subclass's call may do more: never fused
        pass

    sub = Scaled(3)
    sub.build((None, 2))
    assert sub.fused_form() is None


def test_plan_mlp_reads_layers_through_fused_form():
    from densekit.layers import _fused

    stack = [random_dense(6, 4, activation="relu"), random_dense(3, 6, activation="tanh")]
    plan = _fused.plan_mlp(stack, np.dtype(np.float32), 4)
    assert plan.kernels[1] is stack[1].kernel and plan.codes.tolist() == [
        f.code for f in (layer.fused_form() for layer in stack)]
    assert _fused.plan_mlp(stack, np.dtype(np.float64), 4) is None  # another dtype
    assert _fused.plan_mlp(stack + [Activation("relu")], np.dtype(np.float32), 4) is None
    big = random_dense(_dense.SMALL_KERNEL_SIZE + 1, 1)
    assert _fused.plan_mlp([big], np.dtype(np.float32), 1) is None  # too big for the row kernel


def test_softmax_over_other_axis_goes_unfused():
    act = functools.partial(activations.softmax, axis=0)
    layer = random_dense(5, 4, activation=act)
    assert layer._fused is None
    x = RNG.standard_normal((9, 4)).astype(np.float32)
    z = reference(x, layer.kernel, layer.bias)
    e = np.exp(z - z.max(axis=0))
    assert_allclose(layer(x), e / e.sum(axis=0), rtol=1e-5, atol=1e-7)


def test_glu_halves_the_last_axis():
    layer = random_dense(8, 3, activation="glu")
    assert layer.compute_output_shape((None, 3)) == (None, 4)
    x = RNG.standard_normal((5, 3)).astype(np.float32)
    z = reference(x, layer.kernel, layer.bias)
    expected = z[:, :4] / (1 + np.exp(-z[:, 4:]))
    y = layer(x)
    assert y.shape == (5, 4)
    assert_allclose(y, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k, u", [(16, 32), (64, 64), (65, 64), (3, 100), (200, 40), (1, 1)])
def test_direct_and_blas_paths_agree(dtype, k, u, n_threads):
    # k * u <= SMALL_KERNEL_SIZE takes the direct row kernel, larger ones BLAS.
    x = RNG.standard_normal((37, k)).astype(dtype)
    w = RNG.standard_normal((k, u)).astype(dtype)
    b = RNG.standard_normal(u).astype(dtype)
    out = np.empty((37, u), dtype)
    code, p0, p1, p2 = activations.fused_code(activations.tanh)
    _dense.dense_forward(x, w, b, out, code, p0, p1, p2, n_threads)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert_allclose(out, np.tanh(x.astype(float) @ w + b), rtol=tol, atol=tol)
    one = np.empty_like(out)
    _dense.dense_forward(x, w, b, one, code, p0, p1, p2, 1)
    assert_array_equal(out, one)
    # a row's result does not depend on the rows around it
    for r in (0, 5, 36):
        single = np.empty((1, u), dtype)
        _dense.dense_forward(x[r:r + 1], w, b, single, code, p0, p1, p2, n_threads)
        assert_array_equal(single[0], out[r])


def test_kernel_entry_point_writes_only_out():
    x = RNG.standard_normal((4, 3)).astype(np.float32)
    w = RNG.standard_normal((3, 2)).astype(np.float32)
    b = RNG.standard_normal(2).astype(np.float32)
    out = np.full((4, 2), np.nan, np.float32)
    copies = [a.copy() for a in (x, w, b)]
    code, p0, p1, p2 = activations.fused_code(activations.relu)
    _dense.dense_forward(x, w, b, out, code, p0, p1, p2, 2)
    assert_allclose(out, np.maximum(x.astype(float) @ w + b, 0), rtol=1e-5, atol=1e-6)
    for a, c in zip((x, w, b), copies):
        assert_array_equal(a, c)


# ------------------------------------------------------------------ build
def test_build_shapes_and_initializers():
    layer = Dense(4, kernel_initializer="ones", bias_initializer=initializers.Constant(0.5))
    assert not layer.built and layer.weights == []
    with pytest.raises(AttributeError):
        layer.kernel
    layer.build((None, 3))
    assert layer.built
    assert layer.kernel.shape == (3, 4) and layer.bias.shape == (4,)
    assert_array_equal(layer.kernel, np.ones((3, 4), np.float32))
    assert_array_equal(layer.bias, np.full(4, 0.5, np.float32))
    assert layer.weights[0] is layer.kernel and layer.weights[1] is layer.bias
    assert layer.kernel.flags.c_contiguous and layer.kernel.dtype == np.float32
    assert layer.count_params() == 16


def test_call_builds_from_the_input():
    layer = Dense(2)
    y = layer(np.ones((3, 4, 5)))
    assert layer.kernel.shape == (5, 2) and y.shape == (3, 4, 2)


def test_unique_default_names():
    a, b = Dense(1), Dense(1)
    assert a.name.startswith("dense") and b.name.startswith("dense_")
    assert a.name != b.name
    act = Activation("relu")
    assert act.name.startswith("activation")
    assert Dense(1, name="mine").name == "mine"


def test_weights_trainable_and_non_trainable():
    layer = random_dense(3, 2)
    assert len(layer.trainable_weights) == 2 and layer.non_trainable_weights == []
    layer.trainable = False
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 2


def test_get_set_weights_roundtrip_and_copy_semantics():
    layer = random_dense(3, 2)
    kernel = layer.kernel
    w = layer.get_weights()
    w[0][...] = 7
    assert not np.any(layer.kernel == 7)  # get_weights returns copies
    layer.set_weights([np.ones((2, 3)), np.arange(3)])
    assert layer.kernel is kernel  # written in place
    assert_array_equal(layer.kernel, np.ones((2, 3)))
    assert_array_equal(layer.bias, np.arange(3, dtype=np.float32))


def test_set_weights_errors_leave_weights_unchanged():
    layer = random_dense(3, 2, name="x")
    before = layer.get_weights()
    with pytest.raises(ValueError, match=r"You called `set_weights\(weights\)` on layer 'x' "
                       r"with a weight list of length 1, but the layer was expecting 2 weights."):
        layer.set_weights([np.ones((2, 3))])
    with pytest.raises(ValueError, match=r"Layer x weight shape \(3,\) is not compatible "
                       r"with provided weight shape \(4,\)."):
        layer.set_weights([np.ones((2, 3)), np.ones(4)])
    with pytest.raises(TypeError, match="real numbers"):
        layer.set_weights([np.ones((2, 3)), np.array(["a", "b", "c"])])
    for a, b in zip(before, layer.get_weights()):
        assert_array_equal(a, b)


def test_constraints_not_applied_until_asked():
    layer = Dense(3, kernel_initializer="ones", kernel_constraint=constraints.MaxNorm(1.0),
                  bias_constraint="NonNeg", bias_initializer=initializers.Constant(-1.0))
    layer.build((None, 4))
    assert_array_equal(layer.kernel, np.ones((4, 3)))  # build does not apply it
    layer.set_weights([np.full((4, 3), 2.0), np.full(3, -2.0)])
    assert_array_equal(layer.kernel, np.full((4, 3), 2.0))  # nor does set_weights
    kernel = layer.kernel
    layer.apply_constraints()
    assert layer.kernel is kernel
    # MaxNorm(1) on columns of norm 4: w * 1 / (1e-7 + 4)
    assert_allclose(layer.kernel, np.full((4, 3), 2.0 / (1e-7 + 4.0)), rtol=1e-6)
    assert_array_equal(layer.bias, np.zeros(3))


def test_apply_constraints_with_a_plain_callable():
    layer = Dense(2, kernel_initializer="ones", kernel_constraint=lambda w: w * 3)
    layer.build((None, 2))
    layer.apply_constraints()
    assert_array_equal(layer.kernel, np.full((2, 2), 3.0))


# ----------------------------------------------------------------- losses
def test_losses_weight_and_activity():
    layer = Dense(3, kernel_regularizer=regularizers.L2(0.1), bias_regularizer="l1",
                  activity_regularizer=regularizers.L1(0.5), bias_initializer="ones")
    layer.build((None, 2))
    layer.set_weights([np.full((2, 3), 2.0), np.ones(3)])
    assert layer.losses == pytest.approx([0.1 * 4 * 6, 0.01 * 3])
    x = np.array([[1.0, -1.0], [2.0, 0.5], [0.0, 0.0], [1.0, 1.0]])
    y = layer(x)
    activity = 0.5 * np.abs(y.astype(np.float64)).sum() / 4
    assert layer.losses == pytest.approx([activity, 2.4, 0.03])
    layer(x[:2])  # the next call replaces the activity loss
    y2 = layer(x[:2])
    assert layer.losses[0] == pytest.approx(0.5 * np.abs(y2.astype(np.float64)).sum() / 2)
    assert len(layer.losses) == 3


def test_no_losses_without_regularizers():
    layer = random_dense(2, 2)
    layer(np.ones((3, 2)))
    assert layer.losses == []


# ----------------------------------------------------------------- config
def test_dense_config_keys_and_roundtrip():
    layer = Dense(5, activation="relu", use_bias=False, kernel_initializer="he_uniform",
                  kernel_regularizer=regularizers.L1L2(l1=0.1, l2=0.2),
                  kernel_constraint="MaxNorm", activity_regularizer="l2", name="d",
                  dtype="float64")
    config = layer.get_config()
    assert config["name"] == "d" and config["dtype"] == "float64"
    assert config["units"] == 5 and config["activation"] == "relu"
    assert config["use_bias"] is False and config["trainable"] is True
    assert config["kernel_initializer"]["class_name"] == "HeUniform"
    assert config["bias_initializer"]["class_name"] == "Zeros"
    assert config["kernel_constraint"]["class_name"] == "MaxNorm"
    assert config["bias_regularizer"] is None and config["bias_constraint"] is None
    assert "activity_regularizer" in config
    assert "activity_regularizer" not in Dense(2).get_config()
    clone = Dense.from_config(json.loads(json.dumps(config)))
    assert not clone.built
    assert clone.get_config() == config


def test_layer_serialize_deserialize_with_build_config():
    layer = random_dense(3, 4, activation="tanh")
    record = serialize(layer)
    assert record["class_name"] == "Dense" and record["build_config"] == {"input_shape": (None, 4)}
    clone = deserialize(json.loads(json.dumps(record)))
    assert clone.built and clone.kernel.shape == (4, 3)
    with pytest.raises(ValueError, match="Unknown layer: 'Conv2D'"):
        deserialize({"class_name": "Conv2D", "config": {}})
    with pytest.raises(ValueError, match="class_name"):
        deserialize({"config": {}})


def test_from_keras_style_config():
    keras_config = {
        "name": "dense", "trainable": True,
        "dtype": {"module": "keras", "class_name": "DTypePolicy",
                  "config": {"name": "float32"}, "registered_name": None},
        "units": 32, "activation": "relu", "use_bias": True,
        "kernel_initializer": {"module": "keras.initializers", "class_name": "HeUniform",
                               "config": {"seed": None}, "registered_name": None},
        "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros",
                             "config": {}, "registered_name": None},
        "kernel_regularizer": None, "bias_regularizer": None,
        "kernel_constraint": {"module": "keras.constraints", "class_name": "MaxNorm",
                              "config": {"max_value": 2, "axis": 0}, "registered_name": None},
        "bias_constraint": None, "quantization_config": None,
    }
    layer = Dense.from_config(keras_config)
    assert layer.units == 32 and layer.dtype == "float32"
    assert isinstance(layer.kernel_initializer, initializers.HeUniform)
    assert isinstance(layer.kernel_constraint, constraints.MaxNorm)


def test_activation_layer():
    layer = Activation("softmax")
    assert layer.get_config()["activation"] == "softmax"
    x = RNG.standard_normal((4, 5))
    y = layer(x)
    assert y.dtype == np.float32 and layer.weights == [] and layer.count_params() == 0
    assert_allclose(y, activations.softmax(x.astype(np.float32)), rtol=1e-6)
    clone = Activation.from_config(layer.get_config())
    assert_array_equal(clone(x), y)
    custom = Activation(lambda z: z * 2)
    assert_array_equal(custom(np.ones((2, 2))), np.full((2, 2), 2.0))
    assert Activation("glu").compute_output_shape((None, 6)) == (None, 3)


def test_input_layer():
    inp = Input(shape=(16,))
    assert isinstance(inp, InputLayer)
    assert inp.shape == inp.batch_shape == (None, 16)
    assert inp.name.startswith("input_layer")
    assert InputLayer(batch_shape=(8, 3)).batch_shape == (8, 3)
    assert Input((3,), batch_size=4).batch_shape == (4, 3)
    config = inp.get_config()
    assert InputLayer.from_config(config).batch_shape == (None, 16)
    keras_config = {"batch_shape": [None, 16], "dtype": "float32", "sparse": False,
                    "ragged": False, "name": "input_layer", "optional": False}
    assert InputLayer.from_config(keras_config).batch_shape == (None, 16)
    with pytest.raises(ValueError, match="both `shape` and `batch_shape`"):
        InputLayer(shape=(3,), batch_shape=(None, 3))
    with pytest.raises(ValueError, match="must pass a `shape`"):
        InputLayer()
    with pytest.raises(ValueError, match="sparse"):
        InputLayer(shape=(3,), sparse=True)
    with pytest.raises(ValueError, match="shape"):
        Input(shape=(-1,))


def test_custom_layer_subclass():
    class Scale(Layer):
        def call(self, x, n_threads):
            return x * 2

    layer = Scale()
    assert layer.name.startswith("scale")
    assert_array_equal(layer(np.ones((2, 3))), np.full((2, 3), 2.0, np.float32))
    assert layer.count_params() == 0


# -------------------------------------------------------------- bad input
@pytest.mark.parametrize("units", [0, -3, 2.5, "4", None, True, np.float64(3)])
def test_bad_units(units):
    with pytest.raises(ValueError, match=r"Received an invalid value for `units`, expected "
                       r"a positive integer. Received: units="):
        Dense(units)


def test_numpy_integer_units_accepted():
    assert Dense(np.int64(3)).units == 3


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"activation": "Relu"}, ValueError, "Could not interpret activation"),
        ({"kernel_initializer": "nope"}, ValueError, "Could not interpret initializer"),
        ({"bias_initializer": 3.5}, ValueError, "Could not interpret initializer"),
        ({"kernel_regularizer": "l3"}, ValueError, "Could not interpret regularizer"),
        ({"activity_regularizer": "l3"}, ValueError, "Could not interpret regularizer"),
        ({"kernel_constraint": "maxnorm"}, ValueError, "Could not interpret constraint"),
        ({"bias_constraint": 1}, ValueError, "Could not interpret constraint"),
        ({"dtype": "float16"}, TypeError, "dtype"),
        ({"dtype": "int32"}, TypeError, "dtype"),
        ({"dtype": "bogus"}, TypeError, "dtype"),
        ({"use_bias": "yes"}, ValueError, "use_bias"),
        ({"name": ""}, ValueError, "name"),
        ({"name": "a/b"}, ValueError, "name"),
        ({"trainable": 1}, ValueError, "trainable"),
        ({"input_shape": (-1,)}, ValueError, "input_shape"),
        ({"input_shape": "16"}, ValueError, "input_shape"),
        ({"n_threads": 0}, ValueError, "n_threads"),
        ({"n_threads": 1.5}, TypeError, "n_threads"),
    ],
)
def test_bad_constructor_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        Dense(3, **kwargs)


def test_bad_inputs_to_a_built_layer():
    layer = Dense(3, name="dense_x")
    layer.build((None, 16))
    with pytest.raises(ValueError, match=r"Input 0 of layer 'dense_x' is incompatible with the "
                       r"layer: expected min_ndim=2, found ndim=1"):
        layer(np.ones(16))
    with pytest.raises(ValueError, match=r"expected axis -1 of input shape to have value 16, "
                       r"but received input with shape \(2, 10\)"):
        layer(np.ones((2, 10)))
    with pytest.raises(TypeError, match="real numbers"):
        layer(np.array([["a"] * 16]))
    with pytest.raises(TypeError, match="real numbers"):
        layer(np.ones((2, 16), dtype=complex))
    with pytest.raises(ValueError, match="n_threads"):
        layer(np.ones((2, 16)), n_threads=0)


def test_unbuilt_layer_rejects_rank1_and_stays_unbuilt():
    layer = Dense(3)
    with pytest.raises(ValueError, match="expected min_ndim=2, found ndim=1"):
        layer(np.ones(4))
    assert not layer.built
    with pytest.raises(ValueError, match="min_ndim=2"):
        layer.build((4,))
    with pytest.raises(ValueError, match="should be defined"):
        layer.build((None, None))


def test_count_params_unbuilt():
    with pytest.raises(ValueError, match=r"You tried to call `count_params` on layer 'cp', but "
                       r"the layer isn't built"):
        Dense(2, name="cp").count_params()


def test_private_kernels_reject_inconsistent_arguments():
    x = np.ones((4, 3), np.float32)
    w = np.ones((3, 2), np.float32)
    b = np.ones(2, np.float32)
    out = np.empty((4, 2), np.float32)
    with pytest.raises(ValueError, match="inconsistent shapes"):
        _dense.dense_forward(x, np.ones((2, 2), np.float32), b, out, 0, 0.0, 0.0, 0.0, 1)
    with pytest.raises(ValueError, match="inconsistent shapes"):
        _dense.dense_forward(x, w, np.ones(3, np.float32), out, 0, 0.0, 0.0, 0.0, 1)
    with pytest.raises(ValueError, match="inconsistent shapes"):
        _dense.dense_forward(x, w, b, np.empty((3, 2), np.float32), 0, 0.0, 0.0, 0.0, 1)
    with pytest.raises(ValueError, match="activation code"):
        _dense.dense_forward(x, w, b, out, 999, 0.0, 0.0, 0.0, 1)
    codes = np.zeros(1, np.intc)
    params = np.zeros(3)
    with pytest.raises(ValueError, match="do not chain"):
        _dense.mlp_forward(x, [np.ones((5, 2), np.float32)], [b], codes, params, out, 16, 1)
    with pytest.raises(ValueError, match="out shape"):
        _dense.mlp_forward(x, [w], [b], codes, params, np.empty((4, 3), np.float32), 16, 1)
    with pytest.raises(ValueError, match="layer lists"):
        _dense.mlp_forward(x, [w], [b], np.zeros(2, np.intc), params, out, 16, 1)
    with pytest.raises(ValueError, match="layer lists"):
        _dense.mlp_forward(x, [w], [b], codes, params, out, 0, 1)
    with pytest.raises(ValueError):  # mixed dtypes never reach the kernel
        _dense.dense_forward(x, w.astype(np.float64), b, out, 0, 0.0, 0.0, 0.0, 1)


# ------------------------------------------------- issue 10: hardening and Keras fidelity
def test_units_error_quotes_a_string():
    # Issue 10.16: `units='8'` printed `units=8`, which reads as a valid value.
    with pytest.raises(ValueError, match=r"Received: units='8'$"):
        Dense("8")
    with pytest.raises(ValueError, match=r"Received: units=None$"):
        Dense(None)


UNRECOGNIZED = r"^Unrecognized keyword arguments passed to {}: \{{'foo': 1, 'units_': 2\}}$"


@pytest.mark.parametrize(
    "make, cls_name",
    [
        (lambda **kw: Dense(3, **kw), "Dense"),
        (lambda **kw: Activation("relu", **kw), "Activation"),
        (lambda **kw: InputLayer(shape=(3,), **kw), "InputLayer"),
        (lambda **kw: Input(shape=(3,), **kw), None),
        (lambda **kw: Layer(**kw), "Layer"),
    ],
)
def test_unknown_keyword_arguments_are_keras_value_errors(make, cls_name):
    # Issue 10.17: Keras 3's Layer raises this ValueError; densekit raised TypeError.
    if cls_name is None:  # Input() has a fixed signature in Keras too
        with pytest.raises(TypeError, match="unexpected keyword argument 'foo'"):
            make(foo=1, units_=2)
        return
    with pytest.raises(ValueError, match=UNRECOGNIZED.format(cls_name)):
        make(foo=1, units_=2)


def test_unknown_keyword_argument_of_a_custom_layer_names_its_class():
    class Scale(Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

    with pytest.raises(ValueError, match=r"passed to Scale: \{'bogus': True\}"):
        Scale(bogus=True)


INPUT_SHAPE_WARNING = (
    "Do not pass an `input_shape`/`input_dim` argument to a layer. When using "
    "Sequential models, prefer using an `Input(shape)` object as the first layer "
    "in the model instead."
)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Dense(3, input_shape=(4,)),
        lambda: Dense(3, input_dim=4),
        lambda: Activation("relu", input_shape=(4,)),
        lambda: Activation("relu", input_dim=4),
    ],
)
def test_input_shape_argument_warns_as_keras(make):
    # Issue 10.17: Keras 3 warns in Layer.__init__ whenever input_shape/input_dim is given.
    with pytest.warns(UserWarning) as record:
        layer = make()
    assert [str(w.message) for w in record] == [INPUT_SHAPE_WARNING]
    # The warning points at the caller's line, not into densekit.
    assert record[0].filename == __file__
    assert layer._input_shape_arg == (4,)


def test_no_warning_without_input_shape_or_from_a_saved_config():
    # filterwarnings=error: any warning fails these.
    Dense(3)
    Activation("relu")
    layer = Dense.from_config({"units": 3, "batch_input_shape": [None, 5]})
    assert layer._input_shape_arg == (5,)


def test_input_layer_takes_keras_2_spellings():
    with pytest.warns(UserWarning, match=r"^Argument `input_shape` is deprecated. Use `shape` "
                                         r"instead.$"):
        layer = InputLayer(input_shape=(3,))
    assert layer.batch_shape == (None, 3)
    assert InputLayer(batch_input_shape=(None, 7)).batch_shape == (None, 7)


def test_concurrent_first_calls_build_once():
    # Issue 10.5: eight threads calling an unbuilt Dense at once ended with 4 weights
    # (each thread appended its own kernel and bias). The slow initializer widens the
    # window in which the threads overlap; it must run exactly once.
    import threading
    import time

    calls = []

    def slow_init(shape, dtype=None):
        calls.append(shape)
        time.sleep(0.05)
        return initializers.GlorotUniform(seed=1)(shape, dtype)

    x = np.ones((2, 5), np.float32)
    expected = Dense(4, kernel_initializer=initializers.GlorotUniform(seed=1))(x)
    layer = Dense(4, kernel_initializer=slow_init)
    start = threading.Barrier(8)
    results, errors = [None] * 8, []

    def work(i):
        start.wait()
        try:
            results[i] = layer(x)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert calls == [(5, 4)]
    assert len(layer.weights) == 2 and layer.count_params() == 24
    for r in results:
        assert_array_equal(r, expected)


def test_concurrent_first_calls_build_once_glorot():
    # The reported reproducer, repeated: it failed in 184 of 300 trials.
    from concurrent.futures import ThreadPoolExecutor

    x = np.ones((3, 8), np.float32)
    with ThreadPoolExecutor(8) as pool:
        for _ in range(20):
            layer = Dense(4, kernel_initializer=initializers.GlorotUniform(seed=1))
            list(pool.map(lambda _: layer(x), range(8)))
            assert layer.count_params() == 36
            layer.set_weights(layer.get_weights())


def test_layers_still_pickle_and_deepcopy():
    import copy
    import pickle

    layer = Dense(3, kernel_initializer=initializers.GlorotUniform(seed=0))
    layer(np.ones((1, 2)))
    for clone in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        assert_array_equal(clone.kernel, layer.kernel)
        assert clone.kernel is not layer.kernel
        clone2 = Dense(3)  # an unbuilt copy builds under its own lock
        copy.deepcopy(clone2)(np.ones((1, 2)))


class CachingInitializer(initializers.Initializer):
    """A Keras-style initializer that hands out the same cached array every call."""

    def __init__(self):
        self.cache = {}

    def __call__(self, shape, dtype=None):
        key = (tuple(shape), dtype)
        if key not in self.cache:
            self.cache[key] = np.full(shape, 0.5, dtype=dtype or "float32")
        return self.cache[key]


@pytest.mark.parametrize("make_init", [CachingInitializer, lambda: _cached_callable()])
def test_foreign_initializer_arrays_are_copied(make_init):
    # Issue 10.15: the cached array became the kernel of both layers, and set_weights
    # wrote into the initializer's own array.
    init = make_init()
    a = Dense(2, kernel_initializer=init)
    b = Dense(2, kernel_initializer=init)
    a.build((None, 3))
    b.build((None, 3))
    assert not np.shares_memory(a.kernel, b.kernel)
    a.set_weights([np.zeros((3, 2)), np.zeros(2)])
    assert_array_equal(b.kernel, np.full((3, 2), 0.5))
    assert_array_equal(init((3, 2), "float32"), np.full((3, 2), 0.5))


def _cached_callable():
    cached = np.full((3, 2), 0.5, dtype=np.float32)
    return lambda shape, dtype=None: cached


def test_which_initializers_are_trusted_to_return_fresh_arrays():
    # densekit's own initializers allocate a new array per call: add_weight keeps it
    # (no second full pass over a huge kernel); everything else is copied.
    from densekit.layers.layer import _returns_fresh_arrays

    class Tweaked(initializers.GlorotUniform):  # inherits densekit's __call__
        pass

    class Wrapped(initializers.GlorotUniform):  # its own __call__: may return anything
        def __call__(self, shape, dtype=None, **kwargs):
            return super().__call__(shape, dtype, **kwargs)

    for init in (initializers.GlorotUniform(seed=0), initializers.Zeros(),
                 initializers.Constant(2.0), initializers.Orthogonal(seed=0),
                 initializers.Identity(), Tweaked(seed=0)):
        assert _returns_fresh_arrays(init), init
    for init in (CachingInitializer(), Wrapped(seed=0), lambda shape, dtype=None: None):
        assert not _returns_fresh_arrays(init), init


# ------------------------------------------------------ latency entries (issue 13)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k, u", [(16, 32), (64, 64), (3, 100)])
def test_rows_forward_matches_dense_forward_bits(dtype, k, u, n_threads):
    x = RNG.standard_normal((70, k)).astype(dtype)
    w = RNG.standard_normal((k, u)).astype(dtype)
    b = RNG.standard_normal(u).astype(dtype)
    code, p0, p1, p2 = activations.fused_code(activations.gelu)
    ref = np.empty((70, u), dtype)
    _dense.dense_forward(x, w, b, ref, code, p0, p1, p2, 2)
    for bias in (b, None):
        out = np.empty((70, u), dtype)
        _dense.rows_forward(x, w, bias, out, code, p0, p1, p2, n_threads)
        if bias is not None:
            assert_array_equal(out, ref)
        one = np.empty_like(out)
        _dense.rows_forward(x, w, bias, one, code, p0, p1, p2, 1)
        assert_array_equal(out, one)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bias_activate_in_place_and_thread_invariant(dtype):
    y0 = RNG.standard_normal((300, 50)).astype(dtype)
    b = RNG.standard_normal(50).astype(dtype)
    code, p0, p1, p2 = activations.fused_code(activations.relu)
    one, two = y0.copy(), y0.copy()
    _dense.bias_activate(one, b, code, p0, p1, p2, 1)
    _dense.bias_activate(two, b, code, p0, p1, p2, 2)
    assert_array_equal(one, two)
    assert_array_equal(one, np.maximum(y0 + b, 0))
    same = y0.copy()
    _dense.bias_activate(same, None, 0, 0.0, 0.0, 0.0, 2)  # linear, no bias: untouched
    assert_array_equal(same, y0)


def test_latency_entries_refuse_misuse():
    x = np.ones((4, 3), np.float32)
    w = np.ones((3, 2), np.float32)
    out = np.empty((4, 2), np.float32)
    code, p0, p1, p2 = activations.fused_code(activations.relu)
    with pytest.raises(ValueError):
        _dense.rows_forward(x, w, None, np.empty((4, 3), np.float32), code, p0, p1, p2, 1)
    with pytest.raises(ValueError):
        _dense.rows_forward(x, w.astype(np.float64), None, out, code, p0, p1, p2, 1)
    with pytest.raises(ValueError):
        _dense.rows_forward(x, np.asfortranarray(np.ones((3, 2), np.float32)), None, out,
                            code, p0, p1, p2, 1)
    with pytest.raises(ValueError):
        _dense.rows_forward(x, w, np.ones(3, np.float32), out, code, p0, p1, p2, 1)
    with pytest.raises(ValueError):
        _dense.rows_forward(x, w, None, out, 999, p0, p1, p2, 1)
    with pytest.raises(ValueError):
        _dense.rows_forward(x, w, None, out, code, p0, p1, p2, 0)
    with pytest.raises(ValueError):
        _dense.rows_forward(x.astype(np.int32), w, None, out, code, p0, p1, p2, 1)
    ro = out.copy()
    ro.flags.writeable = False
    with pytest.raises(ValueError):
        _dense.bias_activate(ro, None, code, p0, p1, p2, 1)
    with pytest.raises(ValueError):
        _dense.bias_activate(out, np.ones(3, np.float32), code, p0, p1, p2, 1)
    with pytest.raises(ValueError):
        _dense.mlp_forward(x, [w], [None], np.zeros(1, np.int64), np.zeros(3), out, 16, 1)
    with pytest.raises(ValueError):
        _dense.mlp_forward(x, [w], [None], np.zeros(1, np.intc), np.zeros(3), out, 16, 0)


@pytest.mark.parametrize("units, input_dim", [(8, 5), (300, 40)])
def test_latency_path_equals_general_path(units, input_dim):
    # (8, 5): direct row kernel; (300, 40): numpy's matmul + bias/activation pass
    layer = random_dense(units, input_dim, activation="tanh")
    x = RNG.standard_normal((33, input_dim)).astype(np.float32)
    fast = layer(x)  # C-contiguous float32: the latency path
    general = layer(np.asfortranarray(x))  # Layer.__call__ -> call
    assert_array_equal(fast, general)
    assert_allclose(fast, reference(x, layer.kernel, layer.bias, np.tanh), rtol=1e-5,
                    atol=1e-5)
    assert_array_equal(layer(x, n_threads=1), layer(x, n_threads=2))


def test_blas_path_does_not_depend_on_blas_threads():
    from threadpoolctl import threadpool_limits

    layer = random_dense(600, 300, activation="relu")
    for rows in (1, 8, 200):
        x = RNG.standard_normal((rows, 300)).astype(np.float32)
        y = layer(x)
        with threadpool_limits(1, user_api="blas"):
            assert_array_equal(layer(x), y)


def test_latency_path_clears_activity_losses_and_checks_n_threads():
    layer = random_dense(4, 3, activation="relu", activity_regularizer="l2")
    layer(np.ones((2, 3), np.float32))
    assert len(layer.losses) >= 1
    layer.activity_regularizer = None
    layer(np.ones((2, 3), np.float32))
    assert layer._activity_losses == []
    with pytest.raises(ValueError, match="n_threads"):
        layer(np.ones((2, 3), np.float32), n_threads=0)
