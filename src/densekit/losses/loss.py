"""The Loss base class and Keras 3's reduction rules (sample weights, masks, divisors)."""

import math

import numpy as np

from densekit._validation import FLOAT_DTYPES
from densekit._registry import to_snake_case
from densekit.layers.layer import unique_name

__all__ = [
    "Loss",
    "reduce_weighted_values",
    "squeeze_or_expand_to_same_rank",
    "standardize_reduction",
]

# Keras lists the allowed values as a set, whose order changes from run to run;
# densekit writes them in this fixed order.
_REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


def standardize_reduction(reduction):
    """Return `reduction` if Keras 3 accepts it, else ValueError in Keras' words."""
    if not any(reduction is r or (isinstance(reduction, str) and reduction == r)
               for r in _REDUCTIONS):
        allowed = "{" + ", ".join(repr(r) for r in _REDUCTIONS) + "}"
        raise ValueError(
            "Invalid value for argument `reduction`. "
            f"Expected one of {allowed}. Received: reduction={reduction}"
        )
    return reduction


def standardize_dtype(dtype):
    """None (follow the inputs) or 'float32' / 'float64' (a Keras DTypePolicy config too)."""
    if dtype is None:
        return None
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


def compute_dtype(dtype, y_pred):
    """The dtype a loss computes in: its own `dtype`, else y_pred's float dtype
    (float32 for integer, boolean or float16 predictions)."""
    if dtype is not None:
        return np.dtype(dtype)
    arr_dtype = y_pred.dtype
    if arr_dtype in FLOAT_DTYPES:
        return arr_dtype
    if arr_dtype.kind in "biuf":
        return np.dtype(np.float32)
    raise TypeError(f"Argument `y_pred` must hold real numbers. Received dtype {arr_dtype}.")


def as_real(x, dtype, name):
    """`x` as an ndarray of `dtype` (a copy only when needed); non-real input: TypeError."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"Argument `{name}` must hold real numbers. Received dtype {arr.dtype}.")
    return arr.astype(dtype, copy=False)


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1=True):
    """Keras' rule: when the ranks differ by one and the longer array ends in a
    size-1 axis, squeeze that axis (or, if the other is rank 1 and
    `expand_rank_1`, give the rank-1 array a trailing axis instead)."""
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2:
        return x1, x2
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = x2[..., None]
        else:
            x1 = x1[..., 0]
    if r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = x1[..., None]
        else:
            x2 = x2[..., 0]
    return x1, x2


def _broadcast_shapes(a, b, name_a, name_b):
    try:
        return np.broadcast_shapes(a, b)
    except ValueError:
        raise ValueError(
            f"Arguments `{name_a}` and `{name_b}` must have broadcastable shapes. "
            f"Received: {name_a}.shape={a}, {name_b}.shape={b}"
        ) from None


class WeightPlan:
    """How Keras 3 turns per-sample loss values into the reduced loss.

    Built from the per-sample values' shape, `sample_weight` and an optional
    mask (sparse categorical crossentropy's `ignore_class`), exactly as Keras'
    ``reduce_weighted_values`` does: the mask is folded into the weights; the
    weights are squeezed/expanded to the values' rank and broadcast
    against them, giving the weighted shape ``shape``; the reduced loss is
    ``sum(values * weights) * scale``.

    Attributes
    ----------
    row_weights : ndarray of float64 or None
        One weight per value (flattened values order): the broadcast weights summed
        over the axes the values are broadcast along. None means all ones.
    shape : tuple
        Shape of ``values * sample_weight`` (what ``reduction=None`` returns).
    scale : float
        1 for 'sum'; 1 / divisor for the means, 0 when the divisor is 0 (Keras'
        divide_no_nan); 1 when `shape` is () (Keras returns the weighted value).
    weights : ndarray or None
        The squeezed/expanded weights, for ``reduction=None``.
    reduced : bool
        False when Keras returns the weighted values unreduced (reduction None or
        'none', or a weighted shape of (0,)).
    """

    __slots__ = ("row_weights", "shape", "scale", "weights", "values_shape", "reduced")

    def __init__(self, values_shape, sample_weight, reduction, dtype, mask=None):
        values_shape = tuple(values_shape)
        self.values_shape = values_shape
        sw = None
        if sample_weight is not None:
            sw = as_real(sample_weight, dtype, "sample_weight")
        if mask is not None:
            mask = np.asarray(mask, dtype=bool)
            if reduction in ("mean", "sum_over_batch_size"):
                total = mask.size
                valid = int(np.count_nonzero(mask))
                float_mask = np.where(mask, dtype.type(total / valid if valid else 0.0),
                                      dtype.type(0)).astype(dtype)
            else:
                float_mask = mask.astype(dtype)
            if sw is not None:
                float_mask, sw = squeeze_or_expand_to_same_rank(float_mask, sw)
                sw = sw * float_mask
            else:
                sw = float_mask
        self.weights = None
        if sw is None:
            shape = values_shape
            self.row_weights = None
        else:
            dummy = np.broadcast_to(np.zeros((), dtype), values_shape)
            vals, sw = squeeze_or_expand_to_same_rank(dummy, sw)
            shape = _broadcast_shapes(vals.shape, sw.shape, "values", "sample_weight")
            full = np.broadcast_to(sw, shape).astype(np.float64)
            lead = len(shape) - vals.ndim
            if lead:
                full = full.sum(axis=tuple(range(lead)))
            axes = tuple(k for k, d in enumerate(vals.shape) if d == 1 and full.shape[k] != 1)
            if axes:
                full = full.sum(axis=axes, keepdims=True)
            self.row_weights = np.ascontiguousarray(full.reshape(-1), dtype=np.float64)
            self.weights = sw
        self.shape = tuple(shape)
        self.reduced = not (reduction is None or reduction == "none" or self.shape == (0,))
        if not self.reduced or reduction == "sum" or self.shape == ():
            self.scale = 1.0
        else:
            if reduction == "mean_with_sample_weight" and sw is not None:
                divisor = float(np.sum(sw, dtype=np.float64))
            else:
                divisor = float(math.prod(self.shape))
            self.scale = 1.0 / divisor if divisor != 0 else 0.0

    def weighted_values(self, values):
        """``values * sample_weight`` with Keras' rank rule (reduction None)."""
        if self.weights is None:
            return values
        vals, sw = squeeze_or_expand_to_same_rank(values, self.weights)
        return (vals * sw).astype(values.dtype, copy=False)


def reduce_weighted_values(values, sample_weight=None, reduction="sum_over_batch_size",
                           dtype=None, mask=None):
    """Keras 3's ``reduce_weighted_values`` on per-sample `values` (NumPy).

    Returns the reduced loss as a NumPy scalar of the values' float dtype (or
    `dtype`), or an ndarray for ``reduction=None``/'none' (and for an empty
    weighted shape of (0,), as Keras does).
    """
    reduction = standardize_reduction(reduction)
    values = np.asarray(values)
    dtype = compute_dtype(dtype, values)
    values = values.astype(dtype, copy=False)
    plan = WeightPlan(values.shape, sample_weight, reduction, dtype, mask)
    if not plan.reduced:
        return plan.weighted_values(values)
    flat = values.reshape(-1).astype(np.float64)
    if plan.row_weights is None:
        total = float(np.sum(flat))
    else:
        total = float(np.sum(flat * plan.row_weights))
    return dtype.type(total * plan.scale)


class Loss:
    """Base class for losses (Keras 3 API).

    Subclasses implement ``call(y_true, y_pred)`` returning per-sample values;
    ``loss(y_true, y_pred, sample_weight=None)`` then reduces them as Keras
    does. Training needs gradients: the built-in losses also provide
    :meth:`value_and_grad`; a custom subclass that wants to be trained on must
    override it.

    Parameters
    ----------
    name : str, optional
        Defaults to the snake-case class name, made unique per session ('loss',
        'loss_1', ...).
    reduction : str or None, default="sum_over_batch_size"
        "sum_over_batch_size" and "mean" divide the weighted sum by the number of
        weighted values, "mean_with_sample_weight" by the sum of the sample
        weights, "sum" does not divide, None and "none" return the weighted
        per-sample values.
    dtype : {None, "float32", "float64"}, optional
        The computation dtype. None (the default) follows `y_pred`: float32 and
        float64 are kept, other numbers become float32 (Keras instead always
        uses floatx, float32).
    """

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        self.reduction = standardize_reduction(reduction)
        self._dtype = standardize_dtype(dtype)

    @property
    def dtype(self):
        """The computation dtype name, or None to follow the inputs."""
        return self._dtype

    def __call__(self, y_true, y_pred, sample_weight=None):
        """The loss, reduced as `reduction` says (NumPy scalar or ndarray)."""
        y_pred = np.asarray(y_pred)
        dtype = compute_dtype(self._dtype, y_pred)
        values = np.asarray(self.call(as_real(y_true, dtype, "y_true"), y_pred.astype(dtype, copy=False)))
        return reduce_weighted_values(values, sample_weight, self.reduction, dtype)

    def call(self, y_true, y_pred):
        """Per-sample loss values (to be implemented by subclasses)."""
        raise NotImplementedError

    def value_and_grad(self, y_true, y_pred, sample_weight=None, out=None, n_threads=None):
        """(reduced loss, d loss / d y_pred); built-in losses implement it."""
        raise NotImplementedError(
            f"Loss {type(self).__name__} has no gradient: a custom Loss used for "
            "training must override `value_and_grad(y_true, y_pred, sample_weight=None, "
            "out=None, n_threads=None)`."
        )

    def get_config(self):
        """``{"name", "reduction"}`` (Keras 3 does not store the dtype)."""
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        """Rebuild a loss from :meth:`get_config`'s dict."""
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"
