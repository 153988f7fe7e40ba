"""`Activation`: applies an activation function to its input."""

import numpy as np

from densekit import activations
from densekit.layers.dense import output_units
from densekit.layers.layer import Layer

__all__ = ["Activation"]


class Activation(Layer):
    """Applies an activation function to an output.

    Parameters
    ----------
    activation : str or callable
        Passed through ``densekit.activations.get`` ('relu', 'softmax', ...).
    name, dtype, input_shape, trainable, n_threads
        See :class:`densekit.layers.Layer`. The input is cast to `dtype`.

    Examples
    --------
    >>> import numpy as np
    >>> from densekit.layers import Activation
    >>> Activation("relu")(np.array([[-3.0, 0.0, 2.0]])).tolist()
    [[0.0, 0.0, 2.0]]
    """

    def __init__(self, activation, *, name=None, dtype=None, input_shape=None,
                 trainable=True, n_threads=None, **kwargs):
        super().__init__(name=name, dtype=dtype, input_shape=input_shape,
                         trainable=trainable, n_threads=n_threads, **kwargs)
        self.activation = activations.get(activation)
        # densekit functions with a fused code are elementwise or last-axis
        # row-wise: they write straight into a preallocated `out`.
        self._fused = activations.fused_code(self.activation)

    def call(self, x, n_threads):
        if self._fused is not None:
            return self.activation(x, out=np.empty_like(x, order="C"), n_threads=n_threads)
        return np.asarray(self.activation(x))

    def _forward(self, x, out, n_threads):
        if self._fused is not None:
            self.activation(x, out=out, n_threads=n_threads)
        else:
            out[...] = self.activation(x)
        return out

    def _train_forward(self, x, ws, training, n_threads):
        from densekit.layers._grad import needs_input

        y = self.call(x, n_threads)
        return y, (x if needs_input(self.activation, self._fused) else None, y)

    def _backward(self, cache, dy, need_dx, grads, ws, n_threads):
        from densekit.layers._grad import activation_backward

        if not need_dx:
            return None
        x, y = cache
        if y.shape != (x if x is not None else y).shape:
            raise NotImplementedError(
                f"densekit cannot train through activation layer '{self.name}': it "
                "changes the shape of its input."
            )
        dx = ws.get("dx")
        if dx is None or dx.shape != dy.shape or dx.dtype != dy.dtype:
            dx = ws["dx"] = np.empty(dy.shape, dtype=dy.dtype)
        last = dy.shape[-1] if dy.ndim else 1
        if last == 0:
            return dx
        rows = dy.size // last if last else 0
        activation_backward(
            self.activation, self._fused,
            None if x is None else np.ascontiguousarray(x).reshape(rows, last),
            np.ascontiguousarray(y).reshape(rows, last),
            np.ascontiguousarray(dy).reshape(rows, last), dx.reshape(rows, last), n_threads,
        )
        return dx

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if self._fused is not None or not input_shape or input_shape[-1] is None:
            return input_shape
        return input_shape[:-1] + (
            output_units(self.activation, None, input_shape[-1], self.dtype),
        )

    def get_config(self):
        config = super().get_config()
        config["activation"] = activations.serialize(self.activation)
        return config
