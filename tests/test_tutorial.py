"""The Keras tutorial, with `keras` replaced by `densekit` in the imports."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from densekit import constraints, initializers, regularizers  # noqa: F401 (the tutorial's imports)
from densekit.layers import Activation, Dense  # noqa: F401
from densekit.models import Sequential


def test_tutorial_part_one():
    model = Sequential()
    with pytest.warns(UserWarning, match="Do not pass an `input_shape`/`input_dim` argument"):  # as Keras 3 does
        model.add(Dense(32, input_shape=(16,), kernel_initializer='he_uniform',
            kernel_regularizer=None, kernel_constraint='MaxNorm', activation='relu'))
    model.add(Dense(16, activation='relu'))
    model.add(Dense(8))

    assert model.count_params() == 1208
    assert [layer.count_params() for layer in model.layers] == [544, 528, 136]
    lines = []
    model.summary(line_length=76, print_fn=lines.append)
    assert lines[-3:] == [" Total params: 1,208 (4.72 KB)",
                          " Trainable params: 1,208 (4.72 KB)",
                          " Non-trainable params: 0 (0.00 B)"]
    # he_uniform: U(-sqrt(6 / fan_in), sqrt(6 / fan_in)) with fan_in = 16
    kernel = model.layers[0].kernel
    assert np.abs(kernel).max() <= np.sqrt(6 / 16)
    assert np.all(model.layers[0].bias == 0)
    x = np.random.default_rng(0).standard_normal((64, 16)).astype(np.float32)
    y = model.predict(x, verbose=0)
    assert y.shape == (64, 8) and y.dtype == np.float32
    h = np.maximum(x.astype(np.float64) @ kernel, 0)
    h = np.maximum(h @ model.layers[1].kernel, 0)
    assert_allclose(y, h @ model.layers[2].kernel, rtol=1e-5, atol=1e-5)


TUTORIAL_INITIALIZERS = {
    "Zeros()": lambda: initializers.Zeros(),
    "Ones()": lambda: initializers.Ones(),
    "Constant(value=0)": lambda: initializers.Constant(value=0),
    "RandomNormal(mean=0.0, stddev=0.05, seed=None)":
        lambda: initializers.RandomNormal(mean=0.0, stddev=0.05, seed=None),
    "RandomUniform(minval=-0.05, maxval=0.05, seed=None)":
        lambda: initializers.RandomUniform(minval=-0.05, maxval=0.05, seed=None),
    "TruncatedNormal(mean=0.0, stddev=0.05, seed=None)":
        lambda: initializers.TruncatedNormal(mean=0.0, stddev=0.05, seed=None),
    "VarianceScaling(scale=1.0, mode='fan_in', distribution='normal', seed=None)":
        lambda: initializers.VarianceScaling(scale=1.0, mode='fan_in', distribution='normal',
                                             seed=None),
    "lecun_uniform(seed=None)": lambda: initializers.lecun_uniform(seed=None),
    "glorot_normal(seed=None)": lambda: initializers.glorot_normal(seed=None),
    "glorot_uniform(seed=None)": lambda: initializers.glorot_uniform(seed=None),
}

# Largest |w| each initializer may produce for a (784, 512) kernel.
_FAN_IN, _FAN_AVG = 784, (784 + 512) / 2
BOUNDS = {
    "Zeros()": 0.0,
    "Ones()": 1.0,
    "Constant(value=0)": 0.0,
    "RandomNormal(mean=0.0, stddev=0.05, seed=None)": 0.05 * 7,
    "RandomUniform(minval=-0.05, maxval=0.05, seed=None)": 0.05,
    "TruncatedNormal(mean=0.0, stddev=0.05, seed=None)": 0.1,
    "VarianceScaling(scale=1.0, mode='fan_in', distribution='normal', seed=None)":
        2 * np.sqrt(1 / _FAN_IN) / 0.87962566103423978,
    "lecun_uniform(seed=None)": np.sqrt(3 / _FAN_IN),
    "glorot_normal(seed=None)": 2 * np.sqrt(1 / _FAN_AVG) / 0.87962566103423978,
    "glorot_uniform(seed=None)": np.sqrt(3 / _FAN_AVG),
}


@pytest.mark.parametrize("label", list(TUTORIAL_INITIALIZERS))
def test_tutorial_part_two(label):
    my_init = TUTORIAL_INITIALIZERS[label]()
    model = Sequential()
    with pytest.warns(UserWarning, match="Do not pass an `input_shape`/`input_dim` argument"):  # as Keras 3 does
        model.add(Dense(512, activation='relu', input_shape=(784,), kernel_initializer=my_init))
    kernel = model.layers[0].kernel
    assert kernel.shape == (784, 512) and kernel.dtype == np.float32
    assert model.count_params() == 784 * 512 + 512
    bound = BOUNDS[label]
    assert np.abs(kernel).max() <= bound * (1 + 1e-6)
    if bound == 0.0 or label == "Ones()":
        assert np.all(kernel == bound)
    else:  # a random initializer: the values vary
        assert kernel.std() > 0.2 * bound / 2
    x = np.random.default_rng(1).random((10, 784), dtype=np.float32)
    y = model.predict(x, verbose=0)
    assert y.shape == (10, 512) and np.all(y >= 0)
    assert_allclose(y, np.maximum(x.astype(np.float64) @ kernel, 0), rtol=1e-5, atol=1e-5)
