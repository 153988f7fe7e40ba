"""Keras 3 losses on the parallel kernels of ``densekit._lib._losses``.

Every built-in loss computes its value and, for training, its gradient with
respect to ``y_pred`` in one pass (:meth:`LossFunctionWrapper.value_and_grad`).
The crossentropies also have fused heads for a last layer with a softmax or
sigmoid activation (:meth:`LossFunctionWrapper.fused_value_and_grad`).

Threads: ``n_threads`` (None: :func:`densekit.get_num_threads`; pass an int resolved
once per fit to skip that lookup) threads split the rows; value and gradient
are bit-identical for every count. Inputs below
``densekit._lib._losses.SERIAL_BELOW`` elements run on the calling thread.

Numerics: element terms are computed in float64 from the stored inputs and
rounded once to the computation dtype; Keras' clipping bound epsilon = 1e-7
(and 1 - epsilon) is first rounded to that dtype, so saturated terms are
Keras' own numbers. Results are identical for every ``n_threads``.
"""

import math
import operator
import warnings

import numpy as np

from densekit._lib import _losses as _k
from densekit._threads import effective_n_threads
from densekit._validation import check_out
from densekit.losses.loss import (
    Loss,
    WeightPlan,
    as_real,
    compute_dtype,
    squeeze_or_expand_to_same_rank,
)

__all__ = [
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "CategoricalHinge",
    "CosineSimilarity",
    "Hinge",
    "Huber",
    "KLDivergence",
    "LogCosh",
    "LossFunctionWrapper",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredError",
    "MeanSquaredLogarithmicError",
    "Poisson",
    "SparseCategoricalCrossentropy",
    "SquaredHinge",
    "binary_crossentropy",
    "categorical_crossentropy",
    "categorical_hinge",
    "cosine_similarity",
    "hinge",
    "huber",
    "kl_divergence",
    "log_cosh",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "mean_squared_logarithmic_error",
    "poisson",
    "sparse_categorical_crossentropy",
    "squared_hinge",
]

E, R, S = _k.Elementwise, _k.Rowwise, _k.Sparse


# --------------------------------------------------------------------------- jobs


def _shape_error(t, p, up_to_last=False):
    if up_to_last:
        return ValueError(
            "Arguments `target` and `output` must have the same shape up until the "
            f"last dimension: target.shape={t.shape}, output.shape={p.shape}"
        )
    return ValueError(
        "Arguments `target` and `output` must have the same shape. "
        f"Received: target.shape={t.shape}, output.shape={p.shape}"
    )


def _canonical_axis(axis, ndim):
    if isinstance(axis, bool):
        raise ValueError(f"`axis` must be of type `int`. Received: axis={axis} of type {type(axis)}")
    try:
        axis = operator.index(axis)
    except TypeError:
        raise ValueError(
            f"`axis` must be of type `int`. Received: axis={axis} of type {type(axis)}"
        ) from None
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"Argument `axis` is out of bounds for an array of rank {ndim}. Received: axis={axis}"
        )
    return axis % ndim


def _unbroadcast(g, shape):
    """Sum `g` down to `shape` (the adjoint of broadcasting)."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    if lead:
        g = g.sum(axis=tuple(range(lead)))
    axes = tuple(k for k, d in enumerate(shape) if d == 1 and g.shape[k] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g


class _Job:
    """A loss call prepared for a kernel: 2-D operands with the reduced axis last."""

    __slots__ = ("family", "code", "param", "t2", "p2", "values_shape", "moved_shape",
                 "axis", "bshape", "p_shape", "orig_shape", "mask", "dtype", "direct")

    def run(self, weights, scale, want_values, grad, n_threads):
        values = np.empty(self.p2.shape[0], self.dtype) if want_values else None
        if self.family == "s":
            total = _k.sparse(self.code, self.t2, self.p2, weights, scale, values, grad, n_threads)
        elif self.family == "r":
            total = _k.rowwise(self.code, self.t2, self.p2, self.param, weights, scale,
                               values, grad, n_threads)
        else:
            total = _k.elementwise(self.code, self.t2, self.p2, self.param, weights, scale,
                                   values, grad, n_threads)
        return total, values

    def to_pred_shape(self, g2):
        """A gradient in kernel layout back to y_pred's shape."""
        g = g2.reshape(self.moved_shape)
        if self.axis is not None and self.axis != len(self.bshape) - 1:
            g = np.moveaxis(g, -1, self.axis)
        g = _unbroadcast(g, self.p_shape)
        return np.ascontiguousarray(g, dtype=self.dtype).reshape(self.orig_shape)


def _finish(job, t, p, axis, code, family, param, values_shape_fn=None):
    """Broadcast-free layout: move `axis` last and flatten to 2-D."""
    job.family, job.code, job.param = family, int(code), float(param)
    b = p.shape
    job.bshape = b
    if axis is not None and axis != len(b) - 1:
        p = np.moveaxis(p, axis, -1)
        if family != "s":
            t = np.moveaxis(t, axis, -1)
        job.direct = False
    job.axis = axis
    job.moved_shape = p.shape
    n_cols = p.shape[-1]
    job.values_shape = p.shape[:-1]
    job.p2 = np.ascontiguousarray(p).reshape(-1, n_cols)
    if family == "s":
        job.t2 = t
    else:
        job.t2 = np.ascontiguousarray(t).reshape(-1, n_cols)
    return job


def _new_job(y_pred, dtype):
    job = _Job()
    job.dtype = dtype
    job.orig_shape = y_pred.shape
    job.mask = None
    job.direct = True
    return job


def _broadcast_pair(job, t, p, family, code, param, axis=None, min_rank=1):
    job.p_shape = p.shape
    try:
        b = p.shape if t.shape == p.shape else np.broadcast_shapes(t.shape, p.shape)
    except ValueError:
        raise ValueError(
            "Arguments `y_true` and `y_pred` must have broadcastable shapes. "
            f"Received: y_true.shape={t.shape}, y_pred.shape={p.shape}"
        ) from None
    if len(b) < min_rank:
        raise ValueError(
            "Arguments `y_true` and `y_pred` must be at least rank 1. "
            f"Received: y_true.shape={t.shape}, y_pred.shape={p.shape}"
        )
    if p.shape != b:
        p = np.broadcast_to(p, b)
        job.direct = False
    if t.shape != b:
        t = np.broadcast_to(t, b)
    if axis is not None:
        axis = _canonical_axis(axis, len(b))
    return _finish(job, t, p, axis, code, family, param)


def _prep_regression(code, squeeze):
    def prep(y_true, y_pred, dtype, fused, delta=None):
        p = y_pred
        t = as_real(y_true, dtype, "y_true")
        if squeeze:
            t, p = squeeze_or_expand_to_same_rank(t, p)
        job = _new_job(y_pred, dtype)
        param = 0.0
        if code == E.HUBER:
            param = float(delta)
        elif code in (E.HINGE, E.SQUARED_HINGE):
            flat = np.ascontiguousarray(t).reshape(-1)
            param = 1.0 if _k.all_binary(flat) else 0.0
        return _broadcast_pair(job, t, p, "e", code, param)
    return prep


def _prep_bce(y_true, y_pred, dtype, fused, from_logits=False, label_smoothing=0.0, axis=-1):
    p = y_pred
    t = as_real(y_true, dtype, "y_true")
    if t.shape != p.shape:
        raise _shape_error(t, p)
    if p.ndim == 0:
        raise ValueError(f"Argument `axis` is out of bounds for an array of rank 0. Received: axis={axis}")
    axis = _canonical_axis(axis, p.ndim)
    if fused == "sigmoid":
        code = E.BCE_SIGMOID
    else:
        code = E.BCE_LOGITS if from_logits else E.BCE
    job = _new_job(y_pred, dtype)
    job.p_shape = p.shape
    return _finish(job, t, p, axis, code, "e", float(label_smoothing))


def _check_cce_rank(t, p):
    if p.ndim < 1:
        raise ValueError(
            "Arguments `target` and `output` must be at least rank 1. "
            f"Received: target.shape={t.shape}, output.shape={p.shape}"
        )


def _warn_one_class(name, p):
    if p.ndim and p.shape[-1] == 1:
        warnings.warn(
            f"In loss {name}, expected y_pred.shape to be (batch_size, num_classes) "
            f"with num_classes > 1. Received: y_pred.shape={p.shape}. Consider using "
            "'binary_crossentropy' if you only have 2 classes.",
            SyntaxWarning,
            stacklevel=4,
        )


def _prep_cce(y_true, y_pred, dtype, fused, from_logits=False, label_smoothing=0.0, axis=-1):
    if isinstance(axis, bool):
        raise ValueError(f"`axis` must be of type `int`. Received: axis={axis} of type {type(axis)}")
    p = y_pred
    t = as_real(y_true, dtype, "y_true")
    _warn_one_class("categorical_crossentropy", p)
    if t.shape != p.shape:
        raise _shape_error(t, p)
    _check_cce_rank(t, p)
    axis = _canonical_axis(axis, p.ndim)
    if fused == "softmax":
        if axis != p.ndim - 1:
            raise ValueError(
                "The fused softmax head needs the loss over the last axis. "
                f"Received: axis={axis} for y_pred.shape={p.shape}"
            )
        code = R.CCE_SOFTMAX
    else:
        code = R.CCE_LOGITS if from_logits else R.CCE
    job = _new_job(y_pred, dtype)
    job.p_shape = p.shape
    return _finish(job, t, p, axis, code, "r", float(label_smoothing))


def _prep_scce(y_true, y_pred, dtype, fused, from_logits=False, ignore_class=None, axis=-1):
    p = y_pred
    t = np.asarray(y_true)
    if t.dtype.kind not in "iu":  # Keras casts the labels to the loss dtype, then to int
        t = as_real(t, dtype, "y_true")
    if p.ndim < 1:
        raise ValueError(f"Argument `output` must be at least rank 1. Received: output.shape={p.shape}")
    axis = p.ndim - 1 if axis == -1 else _canonical_axis(axis, p.ndim)
    if t.ndim == p.ndim and t.shape[axis] == 1:
        t = np.squeeze(t, axis=axis)
    if t.shape != p.shape[:axis] + p.shape[axis + 1:]:
        raise _shape_error(t, p, up_to_last=True)
    n_classes = p.shape[axis]
    mask = None
    if ignore_class is not None:
        mask = t != (dtype.type(ignore_class) if t.dtype.kind == "f" else ignore_class)
    labels = np.ascontiguousarray(t.reshape(-1), dtype=np.int64)
    if mask is not None:
        labels = np.where(mask.reshape(-1), labels, -1)
    bad = _k.first_bad_label(labels, n_classes, mask is not None)
    if bad >= 0:
        raise ValueError(
            f"Received a label value of {labels[bad]} which is outside the valid range of "
            f"[0, {n_classes})."
        )
    if fused == "softmax":
        if axis != p.ndim - 1:
            raise ValueError(
                "The fused softmax head needs the loss over the last axis. "
                f"Received: axis={axis} for y_pred.shape={p.shape}"
            )
        code = S.SCCE_SOFTMAX
    else:
        code = S.SCCE_LOGITS if from_logits else S.SCCE
    job = _new_job(y_pred, dtype)
    job.p_shape = p.shape
    job.mask = mask
    return _finish(job, labels, p, axis, code, "s", 0.0)


def _prep_categorical_hinge(y_true, y_pred, dtype, fused):
    t = as_real(y_true, dtype, "y_true")
    return _broadcast_pair(_new_job(y_pred, dtype), t, y_pred, "r", R.CATEGORICAL_HINGE, 0.0)


def _prep_cosine(y_true, y_pred, dtype, fused, axis=-1):
    t = as_real(y_true, dtype, "y_true")
    t, p = squeeze_or_expand_to_same_rank(t, y_pred)
    return _broadcast_pair(_new_job(y_pred, dtype), t, p, "r", R.COSINE, 0.0, axis=axis)


def _job_for(fn, y_true, y_pred, kwargs, dtype=None, fused=None):
    p = np.asarray(y_pred)
    dtype = compute_dtype(dtype, p)
    p = p.astype(dtype, copy=False)
    return fn._densekit_prepare(y_true, p, dtype, fused, **kwargs)


def _per_sample(fn, y_true, y_pred, kwargs, n_threads=None):
    """Per-sample values of a built-in loss function (what Keras' function form returns)."""
    job = _job_for(fn, y_true, y_pred, kwargs)
    _, values = job.run(None, 1.0, True, None, effective_n_threads(n_threads))
    values = values.reshape(job.values_shape)
    if job.mask is not None:
        values = np.where(job.mask, values, job.dtype.type(0))
    return values


def _evaluate(job, sample_weight, reduction, want_grad, out, n_threads):
    """(reduced loss, gradient or None) of a prepared job, with Keras' reduction."""
    n_threads = effective_n_threads(n_threads)
    dtype = job.dtype
    plan = WeightPlan(job.values_shape, sample_weight, reduction, dtype, job.mask)
    grad2 = None
    if want_grad:
        if out is not None:
            check_out(out, job.orig_shape, dtype)
            if np.may_share_memory(out, job.p2) or np.may_share_memory(out, job.t2):
                job.direct = False  # the row kernels read y_pred after writing: not in place
        if out is not None and job.direct:
            grad2 = out.reshape(job.p2.shape)
        else:
            grad2 = np.empty(job.p2.shape, dtype)
    if plan.reduced:
        total, _ = job.run(plan.row_weights, plan.scale, False, grad2, n_threads)
        value = dtype.type(total * plan.scale)
    else:
        total, values = job.run(plan.row_weights, 1.0, True, grad2, n_threads)
        values = values.reshape(job.values_shape)
        if job.mask is not None:
            values = np.where(job.mask, values, dtype.type(0))
        value = plan.weighted_values(values)
    if not want_grad:
        return value, None
    if out is not None and job.direct:
        return value, out
    grad = job.to_pred_shape(grad2)
    if out is not None:
        out[...] = grad
        return value, out
    return value, grad


# ------------------------------------------------------------------ function forms


def _register(prepare):
    def deco(fn):
        fn._densekit_prepare = prepare
        return fn
    return deco


@_register(_prep_regression(E.MSE, True))
def mean_squared_error(y_true, y_pred):
    """Per-sample ``mean(square(y_true - y_pred), axis=-1)``.

    Examples
    --------
    >>> from densekit.losses import mean_squared_error
    >>> mean_squared_error([[1.0, 0.0]], [[0.5, 0.5]])
    array([0.25])
    """
    return _per_sample(mean_squared_error, y_true, y_pred, {})


@_register(_prep_regression(E.MAE, True))
def mean_absolute_error(y_true, y_pred):
    """Per-sample ``mean(abs(y_true - y_pred), axis=-1)``."""
    return _per_sample(mean_absolute_error, y_true, y_pred, {})


@_register(_prep_regression(E.MAPE, True))
def mean_absolute_percentage_error(y_true, y_pred):
    """Per-sample ``100 * mean(abs((y_true - y_pred) / maximum(abs(y_true), 1e-7)), axis=-1)``."""
    return _per_sample(mean_absolute_percentage_error, y_true, y_pred, {})


@_register(_prep_regression(E.MSLE, True))
def mean_squared_logarithmic_error(y_true, y_pred):
    """Per-sample ``mean(square(log(max(y_pred, 1e-7) + 1) - log(max(y_true, 1e-7) + 1)), axis=-1)``."""
    return _per_sample(mean_squared_logarithmic_error, y_true, y_pred, {})


@_register(_prep_regression(E.HUBER, True))
def huber(y_true, y_pred, delta=1.0):
    """Per-sample Huber loss: mean of ``0.5 x**2`` (|x| <= delta) or
    ``delta |x| - 0.5 delta**2`` over the last axis, x = y_pred - y_true."""
    return _per_sample(huber, y_true, y_pred, {"delta": delta})


@_register(_prep_regression(E.LOG_COSH, True))
def log_cosh(y_true, y_pred):
    """Per-sample ``mean(log(cosh(y_pred - y_true)), axis=-1)`` (computed stably)."""
    return _per_sample(log_cosh, y_true, y_pred, {})


@_register(_prep_regression(E.HINGE, False))
def hinge(y_true, y_pred):
    """Per-sample ``mean(maximum(1 - y_true * y_pred, 0), axis=-1)``; labels that are
    all 0 or 1 are first mapped to -1 and 1 (Keras checks the whole `y_true`)."""
    return _per_sample(hinge, y_true, y_pred, {})


@_register(_prep_regression(E.SQUARED_HINGE, False))
def squared_hinge(y_true, y_pred):
    """Per-sample ``mean(square(maximum(1 - y_true * y_pred, 0)), axis=-1)`` (labels as :func:`hinge`)."""
    return _per_sample(squared_hinge, y_true, y_pred, {})


@_register(_prep_categorical_hinge)
def categorical_hinge(y_true, y_pred):
    """Per-sample ``maximum(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)``."""
    return _per_sample(categorical_hinge, y_true, y_pred, {})


@_register(_prep_regression(E.POISSON, False))
def poisson(y_true, y_pred):
    """Per-sample ``mean(y_pred - y_true * log(y_pred + 1e-7), axis=-1)``."""
    return _per_sample(poisson, y_true, y_pred, {})


@_register(_prep_regression(E.KLD, False))
def kl_divergence(y_true, y_pred):
    """Per-sample ``sum(t * log(t / p), axis=-1)`` with t, p clipped to [1e-7, 1]."""
    return _per_sample(kl_divergence, y_true, y_pred, {})


@_register(_prep_cosine)
def cosine_similarity(y_true, y_pred, axis=-1):
    """Per-sample ``-sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)``
    (norms below 1e-7 are taken as 1e-7, as Keras' ``normalize``)."""
    return _per_sample(cosine_similarity, y_true, y_pred, {"axis": axis})


@_register(_prep_bce)
def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Per-sample binary crossentropy, the mean over `axis`.

    Probabilities are clipped to [1e-7, 1 - 1e-7] (rounded to the dtype);
    logits use the stable ``t softplus(-x) + (1 - t) softplus(x)``. Label
    smoothing maps t to ``t (1 - ls) + 0.5 ls``.
    """
    return _per_sample(binary_crossentropy, y_true, y_pred,
                       {"from_logits": from_logits, "label_smoothing": label_smoothing, "axis": axis})


@_register(_prep_cce)
def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Per-sample categorical crossentropy over `axis`.

    Probabilities are normalised to sum 1 and clipped to [1e-7, 1 - 1e-7];
    logits go through a stable log-softmax. Label smoothing maps t to
    ``t (1 - ls) + ls / num_classes``.
    """
    return _per_sample(categorical_crossentropy, y_true, y_pred,
                       {"from_logits": from_logits, "label_smoothing": label_smoothing, "axis": axis})


@_register(_prep_scce)
def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """Per-sample crossentropy of integer labels; rows whose label is `ignore_class` give 0.

    Labels outside [0, num_classes) raise ValueError (Keras on jax silently gives 0).
    """
    return _per_sample(sparse_categorical_crossentropy, y_true, y_pred,
                       {"from_logits": from_logits, "ignore_class": ignore_class, "axis": axis})


_FUSED = {
    binary_crossentropy: "sigmoid",
    categorical_crossentropy: "softmax",
    sparse_categorical_crossentropy: "softmax",
}


# --------------------------------------------------------------------------- classes


class LossFunctionWrapper(Loss):
    """A loss from a per-sample function ``fn(y_true, y_pred, **kwargs)``.

    As in Keras, `y_true` and `y_pred` first pass through
    :func:`~densekit.losses.loss.squeeze_or_expand_to_same_rank`. When `fn` is one
    of densekit's loss functions the value, the gradient and the fused heads run
    on the compiled kernels; for any other callable only the value is available.

    Thread behaviour: ``n_threads`` (None: :func:`densekit.get_num_threads`)
    threads split the rows; results are identical for every count. Inputs below
    ``densekit._lib._losses.SERIAL_BELOW`` elements run on the calling thread.
    """

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    @property
    def _builtin(self):
        return hasattr(self.fn, "_densekit_prepare")

    def _job(self, y_true, y_pred, fused=None):
        p = np.asarray(y_pred)
        dtype = compute_dtype(self._dtype, p)
        p = p.astype(dtype, copy=False)
        t = np.asarray(y_true)
        if t.dtype.kind not in "biuf":
            raise TypeError(f"Argument `y_true` must hold real numbers. Received dtype {t.dtype}.")
        t, p_sq = squeeze_or_expand_to_same_rank(t, p)
        job = self.fn._densekit_prepare(t, p_sq, dtype, fused, **self._fn_kwargs)
        # a squeezed y_pred keeps its size and order: the gradient is only reshaped
        job.orig_shape = p.shape
        return job

    def call(self, y_true, y_pred):
        """Per-sample values, ``fn(y_true, y_pred, **kwargs)`` after the rank rule."""
        if self._builtin:
            job = self._job(y_true, y_pred)
            _, values = job.run(None, 1.0, True, None, effective_n_threads(None))
            values = values.reshape(job.values_shape)
            if job.mask is not None:
                values = np.where(job.mask, values, job.dtype.type(0))
            return values
        t, p = squeeze_or_expand_to_same_rank(np.asarray(y_true), np.asarray(y_pred))
        return self.fn(t, p, **self._fn_kwargs)

    def __call__(self, y_true, y_pred, sample_weight=None, n_threads=None):
        """The reduced loss: a NumPy scalar of the computation dtype, or an ndarray for
        ``reduction=None``.

        Parameters
        ----------
        y_true, y_pred : array_like
            Targets and predictions (Keras' shapes; sparse labels for the sparse loss).
        sample_weight : array_like, optional
            Weights, broadcast against the per-sample values with Keras' rank rule.
        n_threads : int, optional
            Threads for the kernel (None: :func:`densekit.get_num_threads`).
        """
        if not self._builtin:
            return super().__call__(y_true, y_pred, sample_weight)
        job = self._job(y_true, y_pred)
        value, _ = _evaluate(job, sample_weight, self.reduction, False, None, n_threads)
        return value

    def value_and_grad(self, y_true, y_pred, sample_weight=None, out=None, n_threads=None):
        """The reduced loss and its gradient with respect to `y_pred`, in one pass.

        Parameters
        ----------
        y_true, y_pred, sample_weight, n_threads
            As for calling the loss.
        out : ndarray, optional
            Receives the gradient: y_pred's shape, the computation dtype,
            C-contiguous and writable. Reusing one buffer per fit avoids an allocation
            per step. It may be `y_pred` itself (the result is then computed aside and
            copied in).

        Returns
        -------
        value : NumPy scalar or ndarray
            Exactly what calling the loss returns.
        grad : ndarray of y_pred's shape, the computation dtype
            ``d value / d y_pred``. For ``reduction=None`` (or 'none') it is the
            gradient of the sum of the returned values. Where Keras clips
            (probabilities outside [1e-7, 1 - 1e-7], ``maximum(y_pred, 1e-7)``), the
            gradient is 0; ties of |x| at 0, of a max, or of a clip bound take one
            side (jax would split them).

        Raises
        ------
        NotImplementedError
            For a wrapper around a function that is not one of densekit's.
        """
        if not self._builtin:
            return super().value_and_grad(y_true, y_pred, sample_weight, out, n_threads)
        job = self._job(y_true, y_pred)
        return _evaluate(job, sample_weight, self.reduction, True, out, n_threads)

    def can_fuse(self, activation):
        """True when :meth:`fused_value_and_grad` applies to a last layer with `activation`.

        That is: 'sigmoid' for binary crossentropy, 'softmax' for (sparse)
        categorical crossentropy, with ``from_logits=False`` (with
        ``from_logits=True`` the plain :meth:`value_and_grad` of a linear last
        layer is already the gradient with respect to the logits) and, for the
        softmax, the loss over the last axis.
        """
        name = getattr(activation, "__name__", activation)
        kind = _FUSED.get(self.fn)
        if kind is None or kind != name or self._fn_kwargs.get("from_logits", False):
            return False
        return self._fn_kwargs.get("axis", -1) == -1 or kind == "sigmoid"

    def fused_value_and_grad(self, y_true, logits, activation, sample_weight=None, out=None,
                             n_threads=None):
        """Loss of ``activation(logits)`` and its gradient with respect to the LOGITS.

        For a last layer ``y_pred = activation(logits)`` with activation 'softmax'
        (categorical and sparse categorical crossentropy) or 'sigmoid' (binary
        crossentropy) and ``from_logits=False`` (see :meth:`can_fuse`), one stable
        pass computes what Keras computes on the probabilities and
        ``d loss / d logits``, without forming the probabilities' gradient.

        The value reproduces Keras' clipping to [1e-7, 1 - 1e-7] in the dtype:

        - softmax: ``log(clip(softmax(z)))`` is ``clip(log_softmax(z), log(eps), log(1 - eps))``,
          with the clip decided on the probability rounded to the dtype. Unclipped terms
          use the exact log-softmax; Keras takes the log of its float32 softmax, so
          the two agree to the rounding of that softmax (a few 1e-8 absolute per term).
        - sigmoid: ``sigmoid(z)`` is rounded to the dtype, clipped and used in
          ``-(t log p + (1 - t) log(1 - p))`` exactly as Keras does, so even where
          float32 rounds ``1 - sigmoid(z)`` coarsely (z > ~9) the value is Keras' own
          (up to the 1-ulp accuracy of the backend's sigmoid).

        The gradient is the exact derivative of that value: ``p * T - t`` (softmax,
        T the sum of the targets whose probability is not clipped, clipped targets
        dropped) and ``sigmoid(z) - t`` (zero where the probability is clipped),
        times the reduction's weight. Keras' float32 autodiff of the clipped
        formula carries the same rounding as its value; the fused gradient does not.

        Parameters
        ----------
        y_true : array_like
            Targets as for the loss.
        logits : array_like
            The last layer's pre-activation output.
        activation : str or callable
            'softmax' or 'sigmoid' (or the densekit activation functions).
        sample_weight, out, n_threads
            As for :meth:`value_and_grad` (`out` gets the logits' gradient).

        Raises
        ------
        ValueError
            When the pair cannot be fused (:meth:`can_fuse` is False).
        """
        if not self.can_fuse(activation):
            raise ValueError(
                f"Loss {self.name!r} cannot be fused with activation {activation!r}: fused "
                "heads are softmax + (sparse) categorical crossentropy over the last axis "
                "and sigmoid + binary crossentropy, with from_logits=False."
            )
        job = self._job(y_true, logits, fused=_FUSED[self.fn])
        return _evaluate(job, sample_weight, self.reduction, True, out, n_threads)

    def get_config(self):
        """Keras' wrapper config: name, reduction, the serialized `fn` and its kwargs."""
        from densekit.losses import serialize

        config = super().get_config()
        config["fn"] = serialize(self.fn)
        config.update(self._fn_kwargs)
        return config

    @classmethod
    def from_config(cls, config):
        """Rebuild from :meth:`get_config` (the `fn` entry is deserialized)."""
        from densekit.losses import deserialize

        config = dict(config)
        if "fn" in config:
            config["fn"] = deserialize(config["fn"])
        return cls(**config)

    def __repr__(self):
        return f"<LossFunctionWrapper({self.fn}, kwargs={self._fn_kwargs})>"


def _check_label_smoothing(value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or not math.isfinite(value) or not 0 <= value <= 1:
        raise ValueError(
            "Argument `label_smoothing` must be a float in [0, 1]. "
            f"Received: label_smoothing={value}"
        )
    return value


class _SimpleLoss(LossFunctionWrapper):
    """A Keras loss class whose config is only {name, reduction}."""

    _fn = None

    def __init__(self, reduction="sum_over_batch_size", name=None, dtype=None):
        super().__init__(type(self)._fn, name=name, reduction=reduction, dtype=dtype)

    def get_config(self):
        return Loss.get_config(self)


class MeanSquaredError(_SimpleLoss):
    """Mean of squares of errors: ``mean(square(y_true - y_pred))``.

    Parameters
    ----------
    reduction : str or None, default="sum_over_batch_size"
        See :class:`~densekit.losses.Loss`.
    name : str, default="mean_squared_error"
    dtype : {None, "float32", "float64"}, optional
        None follows `y_pred`.

    Examples
    --------
    >>> from densekit.losses import MeanSquaredError
    >>> round(float(MeanSquaredError()([1.0, 0.0, 1.0], [0.9, 0.1, 0.8])), 6)
    0.02
    """

    _fn = staticmethod(mean_squared_error)

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class MeanAbsoluteError(_SimpleLoss):
    """Mean of absolute errors: ``mean(abs(y_true - y_pred))`` (arguments as :class:`MeanSquaredError`)."""

    _fn = staticmethod(mean_absolute_error)

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class MeanAbsolutePercentageError(_SimpleLoss):
    """``100 * mean(abs((y_true - y_pred) / maximum(abs(y_true), 1e-7)))``."""

    _fn = staticmethod(mean_absolute_percentage_error)

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_percentage_error",
                 dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class MeanSquaredLogarithmicError(_SimpleLoss):
    """``mean(square(log(max(y_pred, 1e-7) + 1) - log(max(y_true, 1e-7) + 1)))``."""

    _fn = staticmethod(mean_squared_logarithmic_error)

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_logarithmic_error",
                 dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class LogCosh(_SimpleLoss):
    """``mean(log(cosh(y_pred - y_true)))``, computed without overflow."""

    _fn = staticmethod(log_cosh)

    def __init__(self, reduction="sum_over_batch_size", name="log_cosh", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class Hinge(_SimpleLoss):
    """``mean(maximum(1 - y_true * y_pred, 0))``; 0/1 labels become -1/1."""

    _fn = staticmethod(hinge)

    def __init__(self, reduction="sum_over_batch_size", name="hinge", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class SquaredHinge(_SimpleLoss):
    """``mean(square(maximum(1 - y_true * y_pred, 0)))``; 0/1 labels become -1/1."""

    _fn = staticmethod(squared_hinge)

    def __init__(self, reduction="sum_over_batch_size", name="squared_hinge", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class CategoricalHinge(_SimpleLoss):
    """``maximum(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)``."""

    _fn = staticmethod(categorical_hinge)

    def __init__(self, reduction="sum_over_batch_size", name="categorical_hinge", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class KLDivergence(_SimpleLoss):
    """``sum(t * log(t / p))`` with t and p clipped to [1e-7, 1]."""

    _fn = staticmethod(kl_divergence)

    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class Poisson(_SimpleLoss):
    """``mean(y_pred - y_true * log(y_pred + 1e-7))``."""

    _fn = staticmethod(poisson)

    def __init__(self, reduction="sum_over_batch_size", name="poisson", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class Huber(LossFunctionWrapper):
    """Huber loss with threshold `delta` (default 1.0), the mean over the last axis.

    Keras 3.15 leaves `delta` out of the config (so a round trip resets it to
    1.0); densekit stores it, so that ``from_config`` rebuilds the same loss.
    """

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        super().__init__(huber, name=name, reduction=reduction, dtype=dtype, delta=delta)
        self.delta = delta

    def get_config(self):
        config = Loss.get_config(self)
        config["delta"] = self.delta
        return config


class CosineSimilarity(LossFunctionWrapper):
    """``-sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)`` (-1 = most similar).

    Keras 3.15 leaves `axis` out of the config; densekit stores it.
    """

    def __init__(self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity",
                 dtype=None):
        super().__init__(cosine_similarity, name=name, reduction=reduction, dtype=dtype, axis=axis)
        self.axis = axis

    def get_config(self):
        config = Loss.get_config(self)
        config["axis"] = self.axis
        return config


class BinaryCrossentropy(LossFunctionWrapper):
    """Binary crossentropy, the mean over `axis` (default -1).

    Parameters
    ----------
    from_logits : bool, default=False
        Whether `y_pred` holds logits (stable log-sigmoid) or probabilities
        (clipped to [1e-7, 1 - 1e-7]).
    label_smoothing : float in [0, 1], default=0.0
        Targets become ``t (1 - ls) + 0.5 ls``.
    axis : int, default=-1
    reduction, name ("binary_crossentropy"), dtype
        See :class:`~densekit.losses.Loss`.

    Notes
    -----
    The fused sigmoid head: :meth:`~LossFunctionWrapper.fused_value_and_grad`.
    """

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="binary_crossentropy", dtype=None):
        _check_label_smoothing(label_smoothing)
        super().__init__(binary_crossentropy, name=name, reduction=reduction, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis

    def get_config(self):
        config = Loss.get_config(self)
        config.update(from_logits=self.from_logits, label_smoothing=self.label_smoothing,
                      axis=self.axis)
        return config


class CategoricalCrossentropy(LossFunctionWrapper):
    """Crossentropy of one-hot (or soft) targets over `axis` (default -1).

    Parameters
    ----------
    from_logits : bool, default=False
        Logits use a stable log-softmax; probabilities are normalised to sum 1 and
        clipped to [1e-7, 1 - 1e-7].
    label_smoothing : float in [0, 1], default=0.0
        Targets become ``t (1 - ls) + ls / num_classes``.
    axis : int, default=-1
    reduction, name ("categorical_crossentropy"), dtype
        See :class:`~densekit.losses.Loss`.

    Notes
    -----
    The fused softmax head: :meth:`~LossFunctionWrapper.fused_value_and_grad`.
    """

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_crossentropy", dtype=None):
        _check_label_smoothing(label_smoothing)
        if isinstance(axis, bool):
            raise ValueError(f"`axis` must be of type `int`. Received: axis={axis} of type {type(axis)}")
        super().__init__(categorical_crossentropy, name=name, reduction=reduction, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis

    def get_config(self):
        config = Loss.get_config(self)
        config.update(from_logits=self.from_logits, label_smoothing=self.label_smoothing,
                      axis=self.axis)
        return config


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    """Crossentropy of integer labels against per-class scores over `axis` (default -1).

    Parameters
    ----------
    from_logits : bool, default=False
    ignore_class : int, optional
        Rows with this label contribute nothing; the mean then runs over the other
        rows only (Keras' mask).
    reduction, axis, name ("sparse_categorical_crossentropy"), dtype
        See :class:`~densekit.losses.Loss`. As in Keras 3.15, `axis` is not part of
        the config.

    Notes
    -----
    Keras 3.15 has no label smoothing here. The fused softmax head:
    :meth:`~LossFunctionWrapper.fused_value_and_grad`.
    """

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size",
                 axis=-1, name="sparse_categorical_crossentropy", dtype=None):
        super().__init__(sparse_categorical_crossentropy, name=name, reduction=reduction,
                         dtype=dtype, from_logits=from_logits, ignore_class=ignore_class, axis=axis)
        self.from_logits = from_logits
        self.ignore_class = ignore_class

    def get_config(self):
        config = Loss.get_config(self)
        config.update(from_logits=self.from_logits, ignore_class=self.ignore_class)
        return config
