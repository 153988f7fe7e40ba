"""`Dropout`: zero a random fraction of the inputs during training (Keras 3 semantics)."""

import numbers
import secrets

import numpy as np

from densekit._lib import _random
from densekit.layers.layer import Layer

__all__ = ["Dropout"]

# The third counter word of the per-step seed derivation: keeps the dropout seeds
# apart from any other use of philox4x32_10 on the same (seed, step).
_DROPOUT_TAG = 0x44524F50  # "DROP"


def step_seed(seed, step):
    """The 64-bit sampler seed of training step `step` of a layer seeded `seed`.

    One Philox4x32-10 block with key = `seed` (two 32-bit words) and counter =
    (step low, step high, tag, 0); its first two output words form the seed. So a
    (seed, step) pair always gives the same mask, whatever the thread count.
    """
    key = (seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF)
    counter = (step & 0xFFFFFFFF, (step >> 32) & 0xFFFFFFFF, _DROPOUT_TAG, 0)
    w = _random.philox4x32_10(counter, key)
    return (w[0] | (w[1] << 32)) & 0xFFFFFFFFFFFFFFFF


class Dropout(Layer):
    """Randomly set input units to 0 with frequency `rate` during training.

    Kept units are scaled by ``1 / (1 - rate)`` so that the expected sum is
    unchanged. Dropout acts only when the layer runs with ``training=True``:
    inside ``fit`` / ``train_on_batch``, or when called as
    ``layer(x, training=True)``. Elsewhere (``predict``, ``evaluate``, a plain
    call) it returns its input.

    Parameters
    ----------
    rate : float
        Fraction of the input units to drop, in [0, 1] (1 drops everything).
    noise_shape : tuple of int or None, optional
        Shape of the binary mask, broadcast against the input (None entries take
        the input's size there): ``(batch_size, 1, features)`` drops the same
        features at every timestep.
    seed : int, optional
        Seed of the masks, in [0, 2**64). None draws one when the layer is created.
    name, dtype, trainable, input_shape, n_threads
        See :class:`densekit.layers.Layer`.

    Notes
    -----
    The mask of training step ``t`` (the layer's own counter of training calls,
    starting at 0) is ``u >= rate`` for u from densekit's counter-based uniform
    sampler seeded with a 64-bit seed derived from ``(seed, t)`` by one Philox
    block (:func:`step_seed`). The same seed and step give the same mask on any
    thread count and in any process. Kept values are ``x / (1 - rate)``, as Keras
    computes them. The masks are not Keras' (jax's Threefry bits differ), only
    their distribution is.

    Examples
    --------
    >>> import numpy as np
    >>> from densekit.layers import Dropout
    >>> layer = Dropout(0.5, seed=0)
    >>> x = np.ones((2, 4), dtype="float32")
    >>> bool((layer(x) == x).all())
    True
    >>> layer(x, training=True).tolist()  # step 0 of seed 0, on any thread count
    [[2.0, 0.0, 2.0, 2.0], [2.0, 0.0, 2.0, 0.0]]
    """

    def __init__(self, rate, noise_shape=None, seed=None, *, name=None, dtype=None,
                 input_shape=None, trainable=True, n_threads=None, **kwargs):
        super().__init__(name=name, dtype=dtype, input_shape=input_shape,
                         trainable=trainable, n_threads=n_threads, **kwargs)
        if (isinstance(rate, bool) or not isinstance(rate, numbers.Real)
                or not 0 <= rate <= 1):
            raise ValueError(
                "Invalid value received for argument "
                "`rate`. Expected a float value between 0 and 1. "
                f"Received: rate={rate}"
            )
        if seed is not None and (
            isinstance(seed, bool) or not isinstance(seed, numbers.Integral)
            or not 0 <= seed < 2**64
        ):
            raise ValueError(
                "Argument `seed` must be None or an integer in [0, 2**64). "
                f"Received: seed={seed!r}"
            )
        self.rate = rate
        self.seed = seed
        self.noise_shape = _validate_noise_shape(noise_shape)
        self._seed = int(seed) if seed is not None else secrets.randbits(64)
        self._step = 0
        self.built = True

    def call(self, x, n_threads):
        return x

    def _mask_shape(self, shape):
        if self.noise_shape is None:
            return tuple(shape)
        if len(self.noise_shape) != len(shape):
            raise ValueError(
                f"Argument `noise_shape` of layer '{self.name}' must have the input's "
                f"rank {len(shape)}. Received: noise_shape={self.noise_shape}"
            )
        return tuple(s if n is None else n for n, s in zip(self.noise_shape, shape))

    def _train_forward(self, x, ws, training, n_threads):
        """(output, cache) of one forward pass; with `training` a new mask is drawn."""
        if not training or self.rate == 0:
            return x, None
        if self.rate == 1:
            out = ws.get("y")
            if out is None or out.shape != x.shape:
                out = ws["y"] = np.empty(x.shape, dtype=x.dtype)
            out[...] = 0
            self._step += 1
            return out, "zeros"
        shape = self._mask_shape(x.shape)
        u = ws.get("u")
        if u is None or u.shape != shape or u.dtype != x.dtype:
            u = ws["u"] = np.empty(shape, dtype=x.dtype)
            ws["keep"] = np.empty(shape, dtype=bool)
            ws["y"] = np.empty(x.shape, dtype=x.dtype)
        n = u.size
        if n:
            _random.fill(_random.UNIFORM, u.reshape(1, n), step_seed(self._seed, self._step),
                         0, n, 0.0, 1.0, n_threads)
        self._step += 1
        keep = ws["keep"]
        np.greater_equal(u, x.dtype.type(self.rate), out=keep)
        y = ws["y"]
        scale = x.dtype.type(1.0 - self.rate)
        np.divide(x, scale, out=y)
        np.multiply(y, keep, out=y)
        return y, keep

    def _backward(self, cache, dy, need_dx, grads, ws, n_threads):
        if cache is None:
            return dy
        if isinstance(cache, str):
            return np.zeros_like(dy)
        dx = ws.get("dx")
        if dx is None or dx.shape != dy.shape or dx.dtype != dy.dtype:
            dx = ws["dx"] = np.empty(dy.shape, dtype=dy.dtype)
        np.divide(dy, dy.dtype.type(1.0 - self.rate), out=dx)
        np.multiply(dx, cache, out=dx)
        return dx

    def __call__(self, x, n_threads=None, *, training=None):
        """Apply the layer; ``training=True`` drops units (a new mask per call)."""
        if not training:
            return super().__call__(x, n_threads=n_threads)
        from densekit._threads import effective_n_threads

        x = np.ascontiguousarray(self._standardize_input(x))
        n = effective_n_threads(self.n_threads if n_threads is None else n_threads)
        y, _ = self._train_forward(x, {}, True, n)
        return y

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed, "noise_shape": self.noise_shape})
        return config


def _validate_noise_shape(noise_shape):
    if noise_shape is None:
        return None
    if isinstance(noise_shape, str):
        raise ValueError(
            "Invalid value received for argument `noise_shape`. "
            "Expected a tuple or list of integers. "
            f"Received: noise_shape={noise_shape}"
        )
    try:
        noise_shape = tuple(noise_shape)
    except TypeError:
        raise ValueError(
            "Invalid value received for argument `noise_shape`. "
            "Expected an iterable of integers "
            "(e.g., a tuple or list). "
            f"Received: noise_shape={noise_shape}"
        ) from None
    for dim in noise_shape:
        if dim is not None and (isinstance(dim, bool) or not isinstance(dim, numbers.Integral)
                                or dim <= 0):
            raise ValueError(
                "Invalid value received for argument `noise_shape`. "
                "Expected all elements to be positive integers or None. "
                f"Received: noise_shape={noise_shape}"
            )
    return tuple(None if d is None else int(d) for d in noise_shape)
