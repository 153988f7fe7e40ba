import importlib.util
import os
import warnings

import pytest

import densekit


# Keras 3 imports TensorFlow unless KERAS_BACKEND names another backend: the tests that
# use Keras (densekit.keras, the README's Keras example) run on one that is installed.
if "KERAS_BACKEND" not in os.environ:
    os.environ["KERAS_BACKEND"] = next(
        (b for b in ("jax", "torch") if importlib.util.find_spec(b) is not None), "numpy")


def _xdist_workers():
    return int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))


def pytest_configure(config):
    # Under pytest-xdist, share the CPUs between workers rather than oversubscribe.
    workers = _xdist_workers()
    if workers > 1:
        densekit.set_num_threads(max(1, densekit.get_num_threads() // workers))


@pytest.fixture(params=[1, 2, 4], ids=lambda n: f"threads{n}")
def n_threads(request):
    """Explicit thread counts every kernel must give identical results for."""
    return request.param


@pytest.fixture
def keras():
    """Keras 3 on its numpy backend, for the `keras`-marked cross-checks (-m keras).

    Keras is not a densekit dependency; those tests are deselected by default and fail,
    rather than skip, when asked for without it: `pip install keras jax`.
    """
    os.environ.setdefault("KERAS_BACKEND", "numpy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # keras/jax import-time deprecation noise
        import keras
    assert keras.backend.backend() == "numpy", "set KERAS_BACKEND=numpy for the keras tests"
    return keras
