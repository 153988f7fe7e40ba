"""`InputLayer` and `Input`: declare the input shape of a `Sequential` model."""

import warnings

from densekit.layers.layer import Layer, standardize_dtype, standardize_shape

__all__ = ["Input", "InputLayer"]


class InputLayer(Layer):
    """The entry point of a model: it fixes the input's shape and dtype.

    Parameters
    ----------
    shape : tuple of int, optional
        Shape of one sample, without the batch axis (``(16,)``).
    batch_size : int, optional
        Fixed batch size (None: any).
    dtype : {'float32', 'float64'} or None
        Dtype inputs are cast to.
    batch_shape : tuple, optional
        Full shape including the batch axis; an alternative to `shape`.
    name : str, optional
        Default 'input_layer', 'input_layer_1', ...
    **kwargs
        Only the Keras 2 spellings ``input_shape`` (for `shape`, with Keras'
        deprecation UserWarning) and ``batch_input_shape`` (for `batch_shape`);
        anything else raises ``ValueError: Unrecognized keyword arguments
        passed to InputLayer: {...}``.

    Notes
    -----
    A Sequential model whose first element is an InputLayer builds every layer as
    soon as it is added. `Sequential.layers` does not list it.
    """

    def __init__(self, shape=None, batch_size=None, dtype=None, batch_shape=None,
                 name=None, sparse=False, ragged=False, optional=False, **kwargs):
        # Keras 3's InputLayer takes the Keras 2 spellings too (with its warning).
        if "input_shape" in kwargs:
            warnings.warn(
                "Argument `input_shape` is deprecated. Use `shape` instead.",
                UserWarning,
                stacklevel=2,
            )
            shape = kwargs.pop("input_shape")
        if "batch_input_shape" in kwargs:
            batch_shape = kwargs.pop("batch_input_shape")
        if kwargs:
            # Keras' Layer message (its InputLayer silently drops unknown keywords).
            raise ValueError(
                f"Unrecognized keyword arguments passed to {self.__class__.__name__}: "
                f"{kwargs}"
            )
        for key, value in (("sparse", sparse), ("ragged", ragged), ("optional", optional)):
            if value:
                raise ValueError(f"densekit inputs cannot be {key}. Received: {key}={value!r}")
        if shape is not None and batch_shape is not None:
            raise ValueError(
                "You cannot pass both `shape` and `batch_shape` at the same time."
            )
        if batch_shape is None:
            if shape is None:
                raise ValueError("You must pass a `shape` argument.")
            shape = standardize_shape(shape, "shape")
            if batch_size is not None:
                batch_size = standardize_shape((batch_size,), "batch_size")[0]
            batch_shape = (batch_size,) + shape
        batch_shape = standardize_shape(batch_shape, "batch_shape")
        if not batch_shape:
            raise ValueError(
                "Argument `shape` must describe at least one axis besides the batch. "
                f"Received: batch_shape={batch_shape}"
            )
        super().__init__(name=name, dtype=standardize_dtype(dtype))
        self.batch_shape = batch_shape
        self.built = True
        self._build_input_shape = batch_shape

    @property
    def shape(self):
        """The batch shape, batch axis first (``(None, 16)``)."""
        return self.batch_shape

    def get_config(self):
        return {"batch_shape": self.batch_shape, "dtype": self.dtype, "name": self.name}


def Input(shape=None, batch_size=None, dtype=None, batch_shape=None, name=None):
    """Declare a model input: ``Sequential([Input(shape=(16,)), Dense(8)])``.

    Unlike Keras, which returns a symbolic tensor, this returns the
    :class:`InputLayer` itself (its `shape` is the batch shape, like a Keras
    tensor's); `Sequential.add` accepts it as the first element.
    """
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype,
                      batch_shape=batch_shape, name=name)
