"""Dropout, Flatten, Reshape and the layers' training hooks."""

import numpy as np
import pytest

import densekit
from densekit.layers import (
    Dense,
    Dropout,
    Flatten,
    Input,
    Reshape,
    deserialize,
    serialize,
)
from densekit.layers.dropout import step_seed
from densekit.models import Sequential


# ----------------------------------------------------------------------- Dropout
def test_dropout_keep_rate_and_scaling():
    rate = 0.3
    layer = Dropout(rate, seed=1)
    x = np.ones((400, 500), dtype=np.float32)
    y = layer(x, training=True)
    kept = y != 0
    n = kept.size
    # keep fraction within 5 standard deviations of 1 - rate
    sd = np.sqrt(rate * (1 - rate) / n)
    assert abs(kept.mean() - (1 - rate)) < 5 * sd
    np.testing.assert_array_equal(y[kept], np.float32(1) / np.float32(1 - rate))
    # the expected value is preserved
    assert abs(y.mean() - 1.0) < 5 * sd / (1 - rate)


def test_dropout_is_identity_outside_training():
    layer = Dropout(0.5, seed=0)
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(layer(x, training=False), x)
    model = Sequential([Input((4,)), Dropout(0.5, seed=0)])
    np.testing.assert_array_equal(model.predict(x, verbose=0), x)
    np.testing.assert_array_equal(model(x), x)


def test_dropout_same_seed_and_step_same_mask_any_thread_count():
    x = np.ones((300, 300), dtype=np.float32)
    saved = densekit.get_num_threads()
    masks = []
    try:
        for threads in (1, 2):
            densekit.set_num_threads(threads)
            layer = Dropout(0.4, seed=123)
            masks.append([layer(x, training=True) for _ in range(3)])
    finally:
        densekit.set_num_threads(saved)
    for a, b in zip(*masks):
        np.testing.assert_array_equal(a, b)
    # each step draws a new mask
    assert not np.array_equal(masks[0][0], masks[0][1])
    # another seed, another mask
    other = Dropout(0.4, seed=124)(x, training=True)
    assert not np.array_equal(other, masks[0][0])


def test_step_seed_is_a_pure_function():
    assert step_seed(5, 0) == step_seed(5, 0)
    assert len({step_seed(5, t) for t in range(100)}) == 100
    assert step_seed(5, 1) != step_seed(6, 1)
    assert 0 <= step_seed(2**64 - 1, 2**40) < 2**64


def test_dropout_rate_zero_and_one_and_noise_shape():
    x = np.ones((4, 3, 5), dtype=np.float32)
    np.testing.assert_array_equal(Dropout(0.0)(x, training=True), x)
    np.testing.assert_array_equal(Dropout(1.0)(x, training=True), np.zeros_like(x))
    y = Dropout(0.5, noise_shape=(None, 1, 5), seed=3)(x, training=True)
    # the same mask on every step of axis 1
    np.testing.assert_array_equal(y[:, 0, :], y[:, 1, :])
    np.testing.assert_array_equal(y[:, 0, :], y[:, 2, :])


def test_dropout_errors_and_config():
    for bad in (-0.1, 1.5, "0.5", True):
        with pytest.raises(ValueError, match="Invalid value received for argument `rate`"):
            Dropout(bad)
    with pytest.raises(ValueError, match="noise_shape"):
        Dropout(0.5, noise_shape="abc")
    with pytest.raises(ValueError, match="noise_shape"):
        Dropout(0.5, noise_shape=(None, 0))
    with pytest.raises(ValueError, match="`seed`"):
        Dropout(0.5, seed=-1)
    layer = Dropout(0.25, noise_shape=(None, 1), seed=7, name="drop")
    config = layer.get_config()
    # Keras 3.15's keys (its dtype is a DTypePolicy record; densekit writes the name)
    assert config == {"name": "drop", "trainable": True, "dtype": "float32", "rate": 0.25,
                      "seed": 7, "noise_shape": (None, 1)}
    again = deserialize(serialize(layer))
    assert isinstance(again, Dropout) and again.get_config() == config
    keras_record = {"class_name": "Dropout", "config": {
        "name": "dropout", "trainable": True,
        "dtype": {"module": "keras", "class_name": "DTypePolicy",
                  "config": {"name": "float32"}, "registered_name": None},
        "rate": 0.5, "seed": None, "noise_shape": None}}
    assert deserialize(keras_record).rate == 0.5


def test_dropout_in_fit_only_and_backward_uses_the_mask():
    # SGD(1) on a model whose only weights sit after the dropout: the gradient
    # seen by the kernel is x * mask / (1 - rate), so dropped inputs get no update.
    from densekit import optimizers

    x = np.ones((8, 6), dtype=np.float64)
    y = np.zeros((8, 1))
    model = Sequential([Input((6,), dtype="float64"), Dropout(0.5, seed=9, dtype="float64"),
                        Dense(1, use_bias=False, kernel_initializer="ones", dtype="float64")])
    model.compile(optimizers.SGD(learning_rate=1.0), "mse")
    mask = Dropout(0.5, seed=9, dtype="float64")(x, training=True)  # step 0 of seed 9
    model.train_on_batch(x, y)
    pred = mask @ np.ones((6, 1))
    expected_grad = mask.T @ (2 * pred / 8)
    np.testing.assert_allclose(1 - model.layers[1].kernel, expected_grad, rtol=1e-12)
    # evaluate does not drop
    assert model.evaluate(x, y, verbose=0) == pytest.approx(
        float(np.mean((x @ model.layers[1].kernel) ** 2)), rel=1e-12)


# ----------------------------------------------------------------- Flatten/Reshape
def test_flatten_shapes_and_config():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    np.testing.assert_array_equal(Flatten()(x), x.reshape(2, 12))
    first = Flatten(data_format="channels_first")(x)
    np.testing.assert_array_equal(first, np.transpose(x, (0, 2, 1)).reshape(2, 12))
    assert Flatten().compute_output_shape((None, 3, 4)) == (None, 12)
    assert Flatten().compute_output_shape((None,)) == (None, 1)
    assert Flatten().get_config()["data_format"] == "channels_last"
    with pytest.raises(ValueError, match="data_format"):
        Flatten(data_format="nhwc")
    model = Sequential([Input((3, 4)), Flatten(), Dense(2)])
    assert model.output_shape == (None, 2)


def test_reshape_shapes_config_and_errors():
    x = np.arange(24, dtype=np.float32).reshape(2, 12)
    np.testing.assert_array_equal(Reshape((3, 4))(x), x.reshape(2, 3, 4))
    np.testing.assert_array_equal(Reshape((-1, 2))(x), x.reshape(2, 6, 2))
    assert Reshape((3, -1)).compute_output_shape((None, 12)) == (None, 3, 4)
    assert Reshape((2, -1)).get_config()["target_shape"] == (2, -1)
    with pytest.raises(ValueError, match="at most one unknown dimension"):
        Reshape((-1, -1))
    with pytest.raises(ValueError, match="non-negative integer, or `-1`"):
        Reshape((-2, 3))
    with pytest.raises(ValueError, match="total size of the tensor must be unchanged"):
        Reshape((5,))(x)
    again = deserialize(serialize(Reshape((3, 4), name="r")))
    assert again.target_shape == (3, 4)


def test_training_through_flatten_and_reshape_matches_a_flat_model():
    from densekit import optimizers

    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 12))
    y = rng.standard_normal((32, 2))
    flat = Sequential([Input((12,), dtype="float64"), Dense(5, activation="tanh", dtype="float64"),
                       Dense(2, dtype="float64")])
    shaped = Sequential([Input((12,), dtype="float64"), Reshape((3, 4), dtype="float64"),
                         Flatten(dtype="float64"), Dense(5, activation="tanh", dtype="float64"),
                         Dense(2, dtype="float64")])
    shaped.set_weights(flat.get_weights())
    for m in (flat, shaped):
        m.compile(optimizers.Adam(0.01), "mse")
        m.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(flat.get_weights(), shaped.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_layer_without_backward_cannot_be_trained():
    from densekit.layers import Layer

    class Custom(Layer):
        def call(self, x, n_threads):
            return x * 2

    model = Sequential([Input((4,)), Dense(3), Custom()])
    model.compile("sgd", "mse")
    before = model.get_weights()
    with pytest.raises(NotImplementedError, match="has no backward pass"):
        model.fit(np.ones((4, 4)), np.ones((4, 3)), verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_frozen_layer_is_not_updated():
    from densekit import optimizers

    rng = np.random.default_rng(1)
    x = rng.standard_normal((16, 4)).astype(np.float32)
    model = Sequential([Input((4,)), Dense(3, trainable=False), Dense(2)])
    frozen = model.layers[0].get_weights()
    model.compile(optimizers.SGD(0.1), "mse")
    model.fit(x, rng.standard_normal((16, 2)), verbose=0)
    for a, b in zip(frozen, model.layers[0].get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(model.layers[1].kernel, 0)


def test_custom_activation_cannot_be_trained_and_weights_stay():
    model = Sequential([Input((4,)), Dense(3, activation=lambda z: z * 2)])
    model.compile("sgd", "mse")
    before = model.get_weights()
    with pytest.raises(NotImplementedError, match="cannot train through activation"):
        model.fit(np.ones((4, 4)), np.ones((4, 3)), verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["linear", "relu", "sigmoid", "tanh", "softmax", "elu",
                                  "selu", "softplus", "silu", "gelu", "softsign",
                                  "leaky_relu", "exponential"])
def test_numpy_fallback_agrees_with_the_kernel(name):
    from densekit import activations
    from densekit.layers._grad import _numpy_activation_backward, activation_backward

    fn = activations.get(name)
    fused = activations.fused_code(fn)
    assert fused is not None
    rng = np.random.default_rng(1)
    z = rng.standard_normal((5, 7))
    y = np.asarray(fn(z))
    dy = rng.standard_normal((5, 7))
    kernel = activation_backward(fn, fused, z, y, dy, np.empty_like(dy), 1)
    fallback = _numpy_activation_backward(fn, z, y, dy, np.empty_like(dy))
    np.testing.assert_allclose(fallback, kernel, rtol=1e-10, atol=1e-12)


def test_activation_layer_partials_train_and_positional_partials_refuse():
    import functools

    from densekit import activations, optimizers
    from densekit.layers import Activation
    from densekit.layers._grad import needs_input

    act = functools.partial(activations.elu, alpha=0.5)
    assert activations.fused_code(act) is not None
    positional = functools.partial(activations.elu, 0.5)
    assert activations.fused_code(positional) is None
    with pytest.raises(NotImplementedError):
        from densekit.layers._grad import activation_backward

        z = np.ones((2, 2))
        activation_backward(positional, None, z, z, z, np.empty_like(z), 1)
    gelu_tanh = functools.partial(activations.gelu, approximate=True)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 3))
    y = rng.standard_normal((6, 3))
    model = Sequential([Input((3,), dtype="float64"), Dense(3, dtype="float64"),
                        Activation(gelu_tanh, dtype="float64")])
    model.compile(optimizers.SGD(1.0), "mse")
    w0 = model.get_weights()
    model.train_on_batch(x, y)
    g = w0[0] - model.get_weights()[0]
    eps = 1e-6
    for idx in [(0, 0), (1, 2), (2, 1)]:
        plus, minus = [w.copy() for w in w0], [w.copy() for w in w0]
        plus[0][idx] += eps
        minus[0][idx] -= eps
        model.set_weights(plus)
        lp = model.test_on_batch(x, y)
        model.set_weights(minus)
        lm = model.test_on_batch(x, y)
        assert g[idx] == pytest.approx((lp - lm) / (2 * eps), rel=1e-5)
    assert needs_input(gelu_tanh, activations.fused_code(gelu_tanh))
