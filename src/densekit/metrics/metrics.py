"""Keras 3 metrics: regression, accuracy, probabilistic, hinge and confusion-matrix metrics.

Per-sample values come from densekit's loss functions (compiled kernels) or
from vectorised NumPy; the confusion metrics count with ``np.bincount`` /
broadcast comparisons, one NumPy call per batch.
"""

import numpy as np

from densekit import losses as _losses
from densekit.losses.loss import squeeze_or_expand_to_same_rank
from densekit.metrics.metric import Mean, MeanMetricWrapper, Metric, as_numbers

__all__ = [
    "AUC",
    "Accuracy",
    "BinaryAccuracy",
    "BinaryCrossentropy",
    "CategoricalAccuracy",
    "CategoricalCrossentropy",
    "CategoricalHinge",
    "CosineSimilarity",
    "Hinge",
    "KLDivergence",
    "LogCoshError",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredError",
    "MeanSquaredLogarithmicError",
    "Poisson",
    "Precision",
    "Recall",
    "RootMeanSquaredError",
    "SparseCategoricalAccuracy",
    "SparseCategoricalCrossentropy",
    "SparseTopKCategoricalAccuracy",
    "SquaredHinge",
    "TopKCategoricalAccuracy",
    "accuracy",
    "binary_accuracy",
    "categorical_accuracy",
    "sparse_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
    "top_k_categorical_accuracy",
]

EPSILON = 1e-7
NEG_INF = -1e10


# ------------------------------------------------------------------ function forms


def _pred(y_pred):
    p = as_numbers(y_pred, "y_pred")
    return p if p.dtype.kind == "f" else p.astype(np.float32)


def accuracy(y_true, y_pred):
    """1.0 where ``y_true == y_pred`` (after Keras' rank rule), else 0.0."""
    p = _pred(y_pred)
    t = as_numbers(y_true, "y_true", p.dtype)
    t, p = squeeze_or_expand_to_same_rank(t, p)
    return np.equal(t, p).astype(np.float32)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1.0 where ``y_true`` equals ``y_pred > threshold`` (as a number), else 0.0."""
    p = _pred(y_pred)
    t = as_numbers(y_true, "y_true")
    t, p = squeeze_or_expand_to_same_rank(t, p)
    return np.equal(t, (p > threshold).astype(t.dtype)).astype(np.float32)


def categorical_accuracy(y_true, y_pred):
    """1.0 where ``argmax(y_true) == argmax(y_pred)`` over the last axis."""
    p = _pred(y_pred)
    t = np.argmax(as_numbers(y_true, "y_true"), axis=-1)
    org_shape = t.shape
    reshape = False
    if t.ndim == p.ndim:
        t = np.squeeze(t, -1)
        reshape = True
    matches = np.equal(t, np.argmax(p, axis=-1)).astype(np.float32)
    return matches.reshape(org_shape) if reshape else matches


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where the integer label equals ``argmax(y_pred)`` over the last axis."""
    p = _pred(y_pred)
    t = as_numbers(y_true, "y_true", p.dtype)
    org_shape = t.shape
    reshape = False
    if t.ndim == p.ndim and t.shape[-1] == 1:
        t = np.squeeze(t, -1)
        reshape = True
    matches = np.equal(t, np.argmax(p, axis=-1).astype(t.dtype)).astype(np.float32)
    if reshape:
        matches = matches.reshape(org_shape)
    if matches.ndim > 1 and matches.shape[-1] == 1:
        matches = np.squeeze(matches, -1)
    return matches


def _in_top_k(targets, predictions, k):
    """Keras' (jax) in_top_k: the target's rank, 1 + #scores strictly greater, is <= k."""
    targets = targets.astype(np.int64)
    at_label = np.take_along_axis(predictions, targets[:, None], axis=-1)
    at_label = np.where(np.isnan(at_label), -np.inf, at_label)
    rank = 1 + np.sum(predictions > at_label, axis=-1)
    return rank <= k


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where ``argmax(y_true)`` is among the `k` largest scores."""
    p = _pred(y_pred)
    t = np.argmax(as_numbers(y_true, "y_true", p.dtype), axis=-1)
    org_shape = t.shape
    if p.ndim > 2:
        p = p.reshape(-1, p.shape[-1])
    reshape = t.ndim > 1
    if reshape:
        t = t.reshape(-1)
    matches = _in_top_k(t, p, k).astype(np.float32)
    return matches.reshape(org_shape) if reshape else matches


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False):
    """1.0 where the integer label is among the `k` largest scores (or, with
    `from_sorted_ids`, among the first `k` ids of `y_pred`)."""
    p = as_numbers(y_pred, "y_pred")
    t = as_numbers(y_true, "y_true", p.dtype if from_sorted_ids else np.int32)
    org_shape = t.shape
    if p.ndim > 2:
        p = p.reshape(-1, p.shape[-1])
    reshape = t.ndim > 1
    if reshape:
        t = t.reshape(-1)
    if from_sorted_ids:
        matches = np.any(t[:, None] == p[:, :k], axis=1)
    else:
        matches = _in_top_k(t, p.astype(np.float64, copy=False), k)
    matches = matches.astype(np.float32)
    return matches.reshape(org_shape) if reshape else matches


def _cosine(y_true, y_pred, axis=-1):
    return -_losses.cosine_similarity(y_true, y_pred, axis=axis)


# -------------------------------------------------------------- wrapper classes


class _Wrapped(MeanMetricWrapper):
    """A MeanMetricWrapper whose config is only {name, dtype}."""

    _fn = None

    def __init__(self, name=None, dtype=None):
        super().__init__(type(self)._fn, name=name, dtype=dtype)

    def get_config(self):
        return Metric.get_config(self)


class MeanSquaredError(_Wrapped):
    """Mean of ``mean(square(y_true - y_pred), axis=-1)`` over the samples seen."""

    _fn = staticmethod(_losses.mean_squared_error)

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)


class MeanAbsoluteError(_Wrapped):
    """Mean of ``mean(abs(y_true - y_pred), axis=-1)``."""

    _fn = staticmethod(_losses.mean_absolute_error)

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(name=name, dtype=dtype)


class MeanAbsolutePercentageError(_Wrapped):
    """Mean of the per-sample mean absolute percentage error."""

    _fn = staticmethod(_losses.mean_absolute_percentage_error)

    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(name=name, dtype=dtype)


class MeanSquaredLogarithmicError(_Wrapped):
    """Mean of the per-sample mean squared logarithmic error."""

    _fn = staticmethod(_losses.mean_squared_logarithmic_error)

    def __init__(self, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(name=name, dtype=dtype)


class LogCoshError(_Wrapped):
    """Mean of the per-sample log-cosh error (logged as 'logcosh')."""

    _fn = staticmethod(_losses.log_cosh)

    def __init__(self, name="logcosh", dtype=None):
        super().__init__(name=name, dtype=dtype)


class CosineSimilarity(MeanMetricWrapper):
    """Mean cosine similarity ``sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)``
    (+1 = same direction; the loss of the same name is its negative)."""

    def __init__(self, name="cosine_similarity", dtype=None, axis=-1):
        super().__init__(_cosine, name=name, dtype=dtype, axis=axis)

    def get_config(self):
        return Metric.get_config(self)


class Hinge(_Wrapped):
    """Mean hinge loss."""

    _fn = staticmethod(_losses.hinge)

    def __init__(self, name="hinge", dtype=None):
        super().__init__(name=name, dtype=dtype)


class SquaredHinge(_Wrapped):
    """Mean squared hinge loss."""

    _fn = staticmethod(_losses.squared_hinge)

    def __init__(self, name="squared_hinge", dtype=None):
        super().__init__(name=name, dtype=dtype)


class CategoricalHinge(_Wrapped):
    """Mean categorical hinge loss."""

    _fn = staticmethod(_losses.categorical_hinge)

    def __init__(self, name="categorical_hinge", dtype=None):
        super().__init__(name=name, dtype=dtype)


class KLDivergence(_Wrapped):
    """Mean Kullback-Leibler divergence."""

    _fn = staticmethod(_losses.kl_divergence)

    def __init__(self, name="kl_divergence", dtype=None):
        super().__init__(name=name, dtype=dtype)


class Poisson(_Wrapped):
    """Mean Poisson loss."""

    _fn = staticmethod(_losses.poisson)

    def __init__(self, name="poisson", dtype=None):
        super().__init__(name=name, dtype=dtype)


class BinaryCrossentropy(MeanMetricWrapper):
    """Mean binary crossentropy (arguments as the loss of the same name)."""

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False,
                 label_smoothing=0):
        super().__init__(_losses.binary_crossentropy, name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing}


class CategoricalCrossentropy(MeanMetricWrapper):
    """Mean categorical crossentropy."""

    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False,
                 label_smoothing=0, axis=-1):
        super().__init__(_losses.categorical_crossentropy, name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """Mean sparse categorical crossentropy."""

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False,
                 ignore_class=None, axis=-1):
        super().__init__(_losses.sparse_categorical_crossentropy, name=name, dtype=dtype,
                         from_logits=from_logits, ignore_class=ignore_class, axis=axis)
        self.from_logits = from_logits
        self.ignore_class = ignore_class
        self.axis = axis

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "from_logits": self.from_logits,
                "ignore_class": self.ignore_class, "axis": self.axis}


class RootMeanSquaredError(Mean):
    """``sqrt(mean(square(y_pred - y_true)))`` over every value seen (weights per sample)."""

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Add the squared errors of a batch."""
        p = as_numbers(y_pred, "y_pred", self.dtype)
        t = as_numbers(y_true, "y_true", self.dtype)
        t, p = squeeze_or_expand_to_same_rank(t, p)
        return super().update_state(np.square(p - t), sample_weight=sample_weight)

    def result(self):
        return self._cast(np.sqrt(self.total / self.count) if self.count != 0 else 0.0)


class Accuracy(_Wrapped):
    """How often predictions equal labels exactly."""

    _fn = staticmethod(accuracy)

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)


class BinaryAccuracy(MeanMetricWrapper):
    """How often ``y_pred > threshold`` matches the binary labels.

    Examples
    --------
    >>> from densekit.metrics import BinaryAccuracy
    >>> m = BinaryAccuracy()
    >>> m.update_state([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]])
    >>> float(m.result())
    0.75
    """

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "threshold": self.threshold}


class CategoricalAccuracy(_Wrapped):
    """How often ``argmax(y_pred)`` matches the one-hot label's argmax."""

    _fn = staticmethod(categorical_accuracy)

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)


class SparseCategoricalAccuracy(_Wrapped):
    """How often ``argmax(y_pred)`` matches the integer label."""

    _fn = staticmethod(sparse_categorical_accuracy)

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot label is among the `k` (default 5) top scores."""

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
        self.k = k

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "k": self.k}


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer label is among the `k` (default 5) top scores."""

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None,
                 from_sorted_ids=False):
        super().__init__(sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=k,
                         from_sorted_ids=from_sorted_ids)
        self.k = k
        self.from_sorted_ids = from_sorted_ids

    def get_config(self):
        config = {"name": self.name, "dtype": self.dtype, "k": self.k}
        if self.from_sorted_ids:
            config["from_sorted_ids"] = True
        return config


# ------------------------------------------------------------- confusion matrices


def _parse_thresholds(thresholds, default):
    if thresholds is not None:
        values = list(thresholds) if isinstance(thresholds, (list, tuple)) else [thresholds]
        bad = [t for t in values if t is None or t < 0 or t > 1]
        if bad:
            raise ValueError(f"Threshold values must be in [0, 1]. Received: {bad}")
        return values
    return [default]


def _evenly_distributed(thresholds):
    n = len(thresholds)
    if n < 3:
        return False
    even = np.arange(n, dtype=np.float32) / (n - 1)
    return bool(np.allclose(thresholds, even, atol=EPSILON))


def _filter_top_k(x, k):
    """Keep each row's k largest scores, set the others to NEG_INF (Keras' _filter_top_k)."""
    idx = np.argsort(-x, axis=-1, kind="stable")[..., :k]
    mask = np.zeros(x.shape, dtype=bool)
    np.put_along_axis(mask, idx, True, axis=-1)
    return np.where(mask, x, NEG_INF)


def _confusion(y_true, y_pred, thresholds, evenly, top_k=None, class_id=None,
               sample_weight=None, multi_label=False, label_weights=None, dtype=np.float32):
    """(tp, fp, tn, fn) for each threshold (columns per label with `multi_label`),
    as Keras' update_confusion_matrix_variables computes them."""
    y_true = as_numbers(y_true, "y_true", dtype)
    y_pred = as_numbers(y_pred, "y_pred", dtype)
    thr = np.asarray(thresholds, dtype=dtype)
    y_pred, y_true = squeeze_or_expand_to_same_rank(y_pred, y_true)
    if sample_weight is not None:
        sample_weight = as_numbers(sample_weight, "sample_weight", dtype)[..., None]
        _, sample_weight = squeeze_or_expand_to_same_rank(y_true, sample_weight,
                                                          expand_rank_1=False)
    if top_k is not None:
        y_pred = _filter_top_k(y_pred, top_k)
    if class_id is not None:
        if y_pred.ndim == 1:
            raise ValueError(
                "When class_id is provided, y_pred must be a 2D array with shape "
                f"(num_samples, num_classes), found shape: {y_pred.shape}"
            )
        y_true = y_true[..., class_id, None]
        y_pred = y_pred[..., class_id, None]
    if y_true.shape != y_pred.shape:
        y_true = np.broadcast_to(y_true, y_pred.shape)
    weights = None
    if sample_weight is not None:
        weights = np.broadcast_to(sample_weight, y_pred.shape).astype(np.float64)
    if label_weights is not None and not multi_label:
        lw = np.broadcast_to(np.asarray(label_weights, np.float64)[None], y_pred.shape)
        weights = lw if weights is None else weights * lw
    if multi_label:
        labels = y_true.reshape(y_true.shape[0], -1) if y_true.ndim > 1 else y_true[:, None]
        preds = y_pred.reshape(labels.shape)
        w = None if weights is None else weights.reshape(labels.shape)
    else:
        labels = y_true.reshape(-1, 1)
        preds = y_pred.reshape(-1, 1)
        w = None if weights is None else weights.reshape(-1, 1)
    is_pos = labels.astype(bool)
    n_thr = thr.shape[0]
    n_lab = labels.shape[1]
    ones = np.ones(labels.shape) if w is None else w
    true_w = np.where(is_pos, ones, 0.0)
    false_w = np.where(is_pos, 0.0, ones)
    if evenly:
        # Keras' bucket path: ceil(p * (n - 1)) - 1 is the last threshold p exceeds.
        p = np.clip(preds, 0.0, 1.0)
        buckets = (np.ceil(p * dtype.type(n_thr - 1)) - 1).astype(np.int64)
        if thr[0] < 0.0 or thr[-1] > 1.0:
            buckets = np.maximum(buckets, 0)
        tp = np.empty((n_thr, n_lab))
        fp = np.empty((n_thr, n_lab))
        for j in range(n_lab):  # one bincount per label column
            keep = buckets[:, j] >= 0
            b = buckets[keep, j]
            tp[:, j] = np.bincount(b, true_w[keep, j], minlength=n_thr)[:n_thr][::-1].cumsum()[::-1]
            fp[:, j] = np.bincount(b, false_w[keep, j], minlength=n_thr)[:n_thr][::-1].cumsum()[::-1]
    else:
        above = preds[None, :, :] > thr[:, None, None]
        tp = np.sum(np.where(above, true_w[None], 0.0), axis=1)
        fp = np.sum(np.where(above, false_w[None], 0.0), axis=1)
    pos_total = true_w.sum(axis=0)
    neg_total = false_w.sum(axis=0)
    tn = neg_total[None, :] - fp
    fn = pos_total[None, :] - tp
    if not multi_label:
        tp, fp, tn, fn = tp[:, 0], fp[:, 0], tn[:, 0], fn[:, 0]
    return tp, fp, tn, fn


def _divide_no_nan(a, b):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b == 0, 0.0, a / np.where(b == 0, 1.0, b))


class _PrecisionRecall(Metric):
    _second = None  # "false_positives" or "false_negatives"

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        self.init_thresholds = thresholds
        self.top_k = top_k
        self.class_id = class_id
        default = 0.5 if top_k is None else NEG_INF
        self.thresholds = _parse_thresholds(thresholds, default)
        self._evenly = _evenly_distributed(self.thresholds)
        n = len(self.thresholds)
        self._state = ("true_positives", self._second)
        self._state_shapes = {"true_positives": (n,), self._second: (n,)}
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Count a batch: `y_pred` scores against each threshold (strictly greater is positive)."""
        tp, fp, tn, fn = _confusion(y_true, y_pred, self.thresholds, self._evenly,
                                    top_k=self.top_k, class_id=self.class_id,
                                    sample_weight=sample_weight, dtype=np.dtype(self.dtype))
        self.true_positives = self.true_positives + tp
        second = fp if self._second == "false_positives" else fn
        setattr(self, self._second, getattr(self, self._second) + second)

    def result(self):
        r = _divide_no_nan(self.true_positives, self.true_positives + getattr(self, self._second))
        return self._cast(r[0] if len(self.thresholds) == 1 else r)

    def get_config(self):
        config = super().get_config()
        config.update(thresholds=self.init_thresholds, top_k=self.top_k, class_id=self.class_id)
        return config


class Precision(_PrecisionRecall):
    """``tp / (tp + fp)`` at each threshold (default 0.5; a list gives a vector).

    Parameters
    ----------
    thresholds : float or list of float in [0, 1], optional
    top_k : int, optional
        Only the k top scores of each row count as predictions.
    class_id : int, optional
        Only this class (column) is scored.
    name : str, optional
        Default 'precision' (made unique per session, as Keras' auto names).
    dtype : optional
    """

    _second = "false_positives"


class Recall(_PrecisionRecall):
    """``tp / (tp + fn)`` at each threshold (arguments as :class:`Precision`)."""

    _second = "false_negatives"


_CURVES = {"roc": "ROC", "ROC": "ROC", "pr": "PR", "PR": "PR", "prgain": "PRGAIN", "PRGAIN": "PRGAIN"}
_SUMMATIONS = {"interpolation": "interpolation", "Interpolation": "interpolation",
               "majoring": "majoring", "Majoring": "majoring",
               "minoring": "minoring", "Minoring": "minoring"}


class AUC(Metric):
    """Area under the ROC or PR curve, by a Riemann sum over `num_thresholds` thresholds.

    Parameters
    ----------
    num_thresholds : int > 1, default=200
    curve : {"ROC", "PR", "PRGAIN"}, default="ROC"
    summation_method : {"interpolation", "majoring", "minoring"}, default="interpolation"
        (PR with interpolation uses Davis & Goadrich's interpolation, as Keras.)
    name, dtype : optional
    thresholds : list of float in [0, 1], optional
        Used instead of `num_thresholds` evenly spaced ones.
    multi_label : bool, default=False
        One curve per label column, averaged (weighted by `label_weights`).
    num_labels : int, optional
    label_weights : array_like, optional
    from_logits : bool, default=False
        Apply a sigmoid to `y_pred` first.
    """

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation",
                 name=None, dtype=None, thresholds=None, multi_label=False, num_labels=None,
                 label_weights=None, from_logits=False):
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            _parse_thresholds(list(thresholds), 0.5)
            self.num_thresholds = len(thresholds) + 2
            thresholds = sorted(thresholds)
            self._evenly = _evenly_distributed(np.array([0.0] + thresholds + [1.0]))
        else:
            if num_thresholds <= 1:
                raise ValueError(
                    "Argument `num_thresholds` must be an integer > 1. "
                    f"Received: num_thresholds={num_thresholds}"
                )
            self.num_thresholds = num_thresholds
            thresholds = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self._evenly = True
        self._thresholds = np.array([0.0 - EPSILON] + thresholds + [1.0 + EPSILON])
        if curve not in _CURVES:
            raise ValueError(
                f'Invalid AUC curve value: "{curve}". Expected values are ["PR", "ROC", "PRGAIN"]'
            )
        self.curve = _CURVES[curve]
        if summation_method not in _SUMMATIONS:
            raise ValueError(
                f'Invalid AUC summation method value: "{summation_method}". Expected values '
                'are ["interpolation", "majoring", "minoring"]'
            )
        self.summation_method = _SUMMATIONS[summation_method]
        self.multi_label = multi_label
        self.num_labels = num_labels
        if num_labels and not multi_label:
            raise ValueError("`num_labels` is needed only when `multi_label` is True.")
        self.label_weights = None if label_weights is None else np.asarray(label_weights, np.float64)
        self._from_logits = from_logits
        self._num_labels = num_labels if multi_label else None
        names = ("true_positives", "false_positives", "true_negatives", "false_negatives")
        self._state = names
        super().__init__(name=name, dtype=dtype)

    @property
    def thresholds(self):
        """The thresholds, including the two outside [0, 1]."""
        return list(self._thresholds)

    def reset_state(self):
        shape = (self.num_thresholds,)
        if self.multi_label:
            shape = (self.num_thresholds, self._num_labels or 0)
        self._state_shapes = {n: shape for n in self._state}
        super().reset_state()

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Count a batch at every threshold."""
        y_pred = as_numbers(y_pred, "y_pred", np.float64)
        if self.multi_label:
            if y_pred.ndim != 2:
                raise ValueError(
                    "`y_pred` must have rank 2 when `multi_label=True`. Found rank "
                    f"{y_pred.ndim}. Full shape received for `y_pred`: {y_pred.shape}"
                )
            if not self._num_labels:
                self._num_labels = y_pred.shape[1]
                self.reset_state()
        if self._from_logits:
            y_pred = 1.0 / (1.0 + np.exp(-y_pred))
        tp, fp, tn, fn = _confusion(
            y_true, y_pred, self._thresholds, self._evenly, sample_weight=sample_weight,
            multi_label=self.multi_label,
            label_weights=None if self.multi_label else self.label_weights,
            dtype=np.dtype(self.dtype))
        self.true_positives = self.true_positives + tp
        self.false_positives = self.false_positives + fp
        self.true_negatives = self.true_negatives + tn
        self.false_negatives = self.false_negatives + fn

    def _by_label(self, terms):
        if self.multi_label:
            by_label = np.sum(terms, axis=0)
            if self.label_weights is None:
                return np.mean(by_label)
            return _divide_no_nan(np.sum(by_label * self.label_weights), np.sum(self.label_weights))
        return np.sum(terms)

    def _interpolate_pr_auc(self):
        n = self.num_thresholds
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        dtp = tp[: n - 1] - tp[1:]
        p = tp + fp
        dp = p[: n - 1] - p[1:]
        prec_slope = _divide_no_nan(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - prec_slope * p[1:]
        ok = (p[: n - 1] > 0) & (p[1:] > 0)
        safe_ratio = np.where(ok, _divide_no_nan(p[: n - 1], np.maximum(p[1:], 0)), 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            inc = _divide_no_nan(prec_slope * (dtp + intercept * np.log(safe_ratio)),
                                 np.maximum(tp[1:] + fn[1:], 0))
        return self._by_label(inc)

    def result(self):
        tp, fp, tn, fn = (self.true_positives, self.false_positives, self.true_negatives,
                          self.false_negatives)
        n = self.num_thresholds
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._cast(self._interpolate_pr_auc())
        recall = _divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide_no_nan(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, _divide_no_nan(tp, tp + fp)
        else:
            scale = _divide_no_nan(tp + fn, tn + fp)
            recall_gain = 1.0 - scale * _divide_no_nan(fn, tp)
            precision_gain = 1.0 - scale * _divide_no_nan(fp, tp)
            recall_gain = np.maximum(np.where(tp == 0, 0.0, recall_gain), 0.0)
            precision_gain = np.where(tp == 0, 1.0, precision_gain)
            x, y = recall_gain, precision_gain
        if self.summation_method == "interpolation":
            heights = (y[: n - 1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = np.minimum(y[: n - 1], y[1:])
        else:
            heights = np.maximum(y[: n - 1], y[1:])
        return self._cast(self._by_label((x[: n - 1] - x[1:]) * heights))

    def get_config(self):
        config = super().get_config()
        config.update(
            num_thresholds=self.num_thresholds, curve=self.curve,
            summation_method=self.summation_method, multi_label=self.multi_label,
            num_labels=self.num_labels,
            label_weights=None if self.label_weights is None else self.label_weights.tolist(),
            from_logits=self._from_logits,
        )
        if self._init_from_thresholds:
            config["thresholds"] = self.thresholds[1:-1]
        return config
