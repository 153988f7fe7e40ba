"""`Flatten` and `Reshape`: change the shape of each sample (Keras 3 semantics)."""

import math
import numbers

import numpy as np

from densekit.layers.layer import Layer

__all__ = ["Flatten", "Reshape"]


class Flatten(Layer):
    """Flatten each sample to one axis: ``(batch, d1, d2, ...) -> (batch, d1*d2*...)``.

    Parameters
    ----------
    data_format : {"channels_last", "channels_first"} or None, default=None
        None means "channels_last". With "channels_first" and inputs of rank 3 or
        more, the channel axis 1 is moved last before flattening (as Keras does),
        so that weights carry over between the two layouts.
    name, dtype, trainable, input_shape, n_threads
        See :class:`densekit.layers.Layer`.

    Examples
    --------
    >>> import numpy as np
    >>> from densekit.layers import Flatten
    >>> Flatten()(np.zeros((2, 3, 4))).shape
    (2, 12)
    """

    def __init__(self, data_format=None, *, name=None, dtype=None, input_shape=None,
                 trainable=True, n_threads=None, **kwargs):
        super().__init__(name=name, dtype=dtype, input_shape=input_shape,
                         trainable=trainable, n_threads=n_threads, **kwargs)
        if data_format is None:
            data_format = "channels_last"
        if not isinstance(data_format, str) or data_format.lower() not in (
                "channels_last", "channels_first"):
            raise ValueError(
                "The `data_format` argument must be one of "
                "{'channels_first', 'channels_last'}. "
                f"Received: data_format={data_format}"
            )
        self.data_format = data_format.lower()
        self.built = True

    def _channels_first(self, ndim):
        return self.data_format == "channels_first" and ndim > 2

    def call(self, x, n_threads):
        if self._channels_first(x.ndim):
            x = np.transpose(x, (0, *range(2, x.ndim), 1))
        return np.ascontiguousarray(x).reshape(x.shape[0], math.prod(x.shape[1:]))

    def compute_output_shape(self, input_shape):
        rest = tuple(input_shape)[1:]
        if not rest:
            return (input_shape[0], 1)
        if any(d is None for d in rest):
            return (input_shape[0], None)
        return (input_shape[0], math.prod(rest))

    def _train_forward(self, x, ws, training, n_threads):
        return self.call(x, n_threads), x.shape

    def _backward(self, cache, dy, need_dx, grads, ws, n_threads):
        if not need_dx:
            return None
        shape = cache
        if self._channels_first(len(shape)):
            moved = (shape[0], *shape[2:], shape[1])
            dx = dy.reshape(moved)
            inverse = (0, len(shape) - 1, *range(1, len(shape) - 1))
            return np.ascontiguousarray(np.transpose(dx, inverse))
        return dy.reshape(shape)

    def get_config(self):
        config = super().get_config()
        config["data_format"] = self.data_format
        return config


class Reshape(Layer):
    """Reshape each sample to `target_shape` (the batch axis is kept).

    Parameters
    ----------
    target_shape : tuple of int
        The new sample shape; one entry may be -1 (inferred from the others).
    name, dtype, trainable, input_shape, n_threads
        See :class:`densekit.layers.Layer`.

    Examples
    --------
    >>> import numpy as np
    >>> from densekit.layers import Reshape
    >>> Reshape((3, -1))(np.zeros((2, 12))).shape
    (2, 3, 4)
    """

    def __init__(self, target_shape, *, name=None, dtype=None, input_shape=None,
                 trainable=True, n_threads=None, **kwargs):
        super().__init__(name=name, dtype=dtype, input_shape=input_shape,
                         trainable=trainable, n_threads=n_threads, **kwargs)
        try:
            target_shape = tuple(target_shape)
        except TypeError:
            raise ValueError(
                "Argument `target_shape` must be a tuple of integers. "
                f"Received: target_shape={target_shape!r}"
            ) from None
        for dim in target_shape:
            if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or dim < -1:
                raise ValueError(
                    "Each dimension in `target_shape` must be a "
                    "non-negative integer, or `-1` for a single unknown "
                    f"dimension. Received: target_shape={target_shape}."
                )
        if sum(1 for d in target_shape if d == -1) > 1:
            raise ValueError(
                "There must be at most one unknown dimension (-1) in "
                f"`target_shape`. Received: target_shape={target_shape}."
            )
        self.target_shape = tuple(int(d) for d in target_shape)
        self.built = True

    def _sample_shape(self, sample_shape):
        target = self.target_shape
        if None in sample_shape:
            return tuple(None if d == -1 else d for d in target)
        size = math.prod(sample_shape)
        if -1 not in target:
            if math.prod(target) != size:
                raise ValueError(
                    "The total size of the tensor must be unchanged. Received: "
                    f"input_shape={tuple(sample_shape)}, target_shape={target}"
                )
            return target
        known = math.prod(d for d in target if d != -1)
        if known == 0 or size % known:
            raise ValueError(
                "The total size of the tensor must be unchanged, received "
                f"input_shape={tuple(sample_shape)}, target_shape={target}"
            )
        return tuple(size // known if d == -1 else d for d in target)

    def _check_input(self, x):
        self._sample_shape(x.shape[1:])

    def call(self, x, n_threads):
        return np.ascontiguousarray(x).reshape((x.shape[0],) + self._sample_shape(x.shape[1:]))

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        return (input_shape[0],) + self._sample_shape(input_shape[1:])

    def _train_forward(self, x, ws, training, n_threads):
        return self.call(x, n_threads), x.shape

    def _backward(self, cache, dy, need_dx, grads, ws, n_threads):
        return dy.reshape(cache) if need_dx else None

    def get_config(self):
        config = super().get_config()
        config["target_shape"] = self.target_shape
        return config
