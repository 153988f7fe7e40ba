"""The stateful Metric base class and the reduction metrics Mean, Sum, MeanMetricWrapper.

State is kept in float64 NumPy values (Keras keeps float32 variables), so a
long epoch accumulates without float32 drift; ``result()`` returns a NumPy
scalar of the metric's dtype. Everything here is vectorised NumPy: one call
per batch, no Python loop over samples.
"""

import numpy as np

from densekit._registry import to_snake_case
from densekit.layers.layer import unique_name
from densekit.losses.loss import squeeze_or_expand_to_same_rank
from densekit._validation import FLOAT_DTYPES

__all__ = ["Mean", "MeanMetricWrapper", "Metric", "Sum"]


def standardize_metric_dtype(dtype):
    """None -> 'float32' (Keras' floatx); 'float32'/'float64' (or a DTypePolicy config)."""
    if dtype is None:
        return "float32"
    if isinstance(dtype, dict):
        dtype = dtype.get("config", {}).get("name", dtype)
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        resolved = None
    if resolved not in FLOAT_DTYPES:
        raise ValueError(
            "Argument `dtype` must be None, 'float32' or 'float64'. "
            f"Received: dtype={dtype!r}"
        )
    return resolved.name


def as_numbers(x, name, dtype=None):
    """`x` as an ndarray of real numbers (cast to `dtype` if given)."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"Argument `{name}` must hold real numbers. Received dtype {arr.dtype}.")
    return arr if dtype is None else arr.astype(dtype, copy=False)


class Metric:
    """Base class of stateful metrics (Keras 3 API).

    ``update_state(...)`` accumulates a batch, ``result()`` gives the current
    value, ``reset_state()`` starts over; calling the metric updates and returns
    the result. Subclasses list their state attributes in ``_state`` (names
    of float64 arrays reset to zeros).

    Metrics run vectorised NumPy on the calling thread (the per-sample values of
    the loss-based metrics come from the parallel loss kernels, with the default
    thread count); they hold no random state.

    Parameters
    ----------
    dtype : {None, "float32", "float64"}
        The result's dtype (None: float32, as Keras).
    name : str, optional
        The key under which the value is logged; defaults to the snake-case class
        name, made unique per session.
    """

    _state = ()
    _state_shapes = {}

    def __init__(self, dtype=None, name=None):
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        self._dtype = standardize_metric_dtype(dtype)
        self.reset_state()

    @property
    def dtype(self):
        """The result dtype name."""
        return self._dtype

    def reset_state(self):
        """Zero every state value."""
        for attr in self._state:
            setattr(self, attr, np.zeros(self._state_shapes.get(attr, ()), np.float64))

    def update_state(self, *args, **kwargs):
        """Accumulate one batch (implemented by subclasses)."""
        raise NotImplementedError

    def result(self):
        """The metric's current value (implemented by subclasses)."""
        raise NotImplementedError

    @property
    def variables(self):
        """The state values, as a list of float64 arrays."""
        return [getattr(self, attr) for attr in self._state]

    def _cast(self, value):
        value = np.asarray(value, dtype=self._dtype)
        return value[()] if value.ndim == 0 else value

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self):
        """``{"name", "dtype"}`` plus the subclass's arguments."""
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        """Rebuild a metric from :meth:`get_config`'s dict (state starts at zero)."""
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


_FLOAT_SCALARS = (float, np.float32, np.float64)


def _samplewise(values, sample_weight, reduce_fn):
    """Keras' reduce_to_samplewise_values: (per-sample values, per-sample weights or None)."""
    values = np.asarray(values, dtype=np.float64)
    if sample_weight is not None:
        sample_weight = as_numbers(sample_weight, "sample_weight", np.float64)
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        w_ndim, v_ndim = sample_weight.ndim, values.ndim
        if v_ndim > w_ndim:
            values = reduce_fn(values, axis=tuple(range(w_ndim, v_ndim)))
        try:
            sample_weight = np.broadcast_to(sample_weight, values.shape)
        except ValueError:
            raise ValueError(
                "Argument `sample_weight` must be broadcastable to the values' shape. "
                f"Received: sample_weight.shape={sample_weight.shape}, values.shape={values.shape}"
            ) from None
        values = values * sample_weight
        if w_ndim > 1:
            sample_weight = reduce_fn(sample_weight, axis=tuple(range(1, w_ndim)))
    if values.ndim > 1:
        values = reduce_fn(values, axis=tuple(range(1, values.ndim)))
    return values, sample_weight


class Sum(Metric):
    """The (weighted) sum of the values seen.

    Examples
    --------
    >>> from densekit.metrics import Sum
    >>> m = Sum()
    >>> m.update_state([1, 3, 5, 7])
    >>> float(m.result())
    16.0
    """

    _state = ("total",)

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, values, sample_weight=None):
        """Add ``sum(values * sample_weight)``."""
        values, _ = _samplewise(as_numbers(values, "values"), sample_weight, np.sum)
        self.total = self.total + np.sum(values)

    def result(self):
        return self._cast(self.total)


class Mean(Metric):
    """The (weighted) mean of the values seen: ``total / count``, 0 before any update.

    With `sample_weight`, values are averaged per sample and count adds the
    weights (Keras' rules for weights of lower rank than the values).

    Examples
    --------
    >>> from densekit.metrics import Mean
    >>> m = Mean()
    >>> m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    >>> float(m.result())
    2.0
    """

    _state = ("total", "count")

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, values, sample_weight=None):
        """Add a batch of values (any shape; averaged per sample)."""
        if type(values) in _FLOAT_SCALARS and (sample_weight is None
                                               or type(sample_weight) is int):
            # A scalar with an int weight or none (a trainer's loss per batch): the
            # same float64 arithmetic as the general path below, without its
            # array machinery (about a tenth of a small training step).
            w = 1.0 if sample_weight is None else float(sample_weight)
            self.total = self.total + float(values) * w
            self.count = self.count + w
            return
        values, sample_weight = _samplewise(as_numbers(values, "values"), sample_weight, np.mean)
        self.total = self.total + np.sum(values)
        if sample_weight is not None:
            n = np.sum(sample_weight)
        elif values.ndim >= 1:
            n = values.shape[0]
        else:
            n = 1
        self.count = self.count + n

    def result(self):
        return self._cast(self.total / self.count if self.count != 0 else 0.0)


class MeanMetricWrapper(Mean):
    """The mean of a per-sample function ``fn(y_true, y_pred, **kwargs)``."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name, dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Add ``fn(y_true, y_pred)``'s per-sample values."""
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
        return super().update_state(values, sample_weight=sample_weight)

    def get_config(self):
        from densekit.losses import serialize

        config = super().get_config()
        config["fn"] = serialize(self._fn)
        config.update(self._fn_kwargs)
        return config

    @classmethod
    def from_config(cls, config):
        from densekit.losses import deserialize

        config = dict(config)
        if "fn" in config:
            config["fn"] = deserialize(config["fn"])
        return cls(**config)
