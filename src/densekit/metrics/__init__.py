"""Stateful metrics (Keras 3 API): update_state / result / reset_state.

Mean, Sum, MeanMetricWrapper; MeanSquaredError, MeanAbsoluteError,
MeanAbsolutePercentageError, MeanSquaredLogarithmicError, RootMeanSquaredError,
LogCoshError, CosineSimilarity; Accuracy, BinaryAccuracy, CategoricalAccuracy,
SparseCategoricalAccuracy, TopKCategoricalAccuracy,
SparseTopKCategoricalAccuracy; BinaryCrossentropy, CategoricalCrossentropy,
SparseCategoricalCrossentropy, KLDivergence, Poisson, Hinge, SquaredHinge,
CategoricalHinge; Precision, Recall, AUC.

``get`` accepts class names, their snake-case names and Keras' aliases ('mse',
'mae', 'mape', 'msle', 'bce' and upper-case forms); ``metric.name`` is the key
Keras writes in the logs. :func:`_resolve` is what compile does with each entry
of ``metrics=[...]``.
"""

from densekit._registry import Registry
from densekit.metrics.metric import Mean, MeanMetricWrapper, Metric, Sum
from densekit.metrics.metrics import (
    AUC,
    Accuracy,
    BinaryAccuracy,
    BinaryCrossentropy,
    CategoricalAccuracy,
    CategoricalCrossentropy,
    CategoricalHinge,
    CosineSimilarity,
    Hinge,
    KLDivergence,
    LogCoshError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    Poisson,
    Precision,
    Recall,
    RootMeanSquaredError,
    SparseCategoricalAccuracy,
    SparseCategoricalCrossentropy,
    SparseTopKCategoricalAccuracy,
    SquaredHinge,
    TopKCategoricalAccuracy,
    accuracy,
    binary_accuracy,
    categorical_accuracy,
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)

__all__ = [
    "ALL_OBJECTS",
    "ALL_OBJECTS_DICT",
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
    "Mean",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanMetricWrapper",
    "MeanSquaredError",
    "MeanSquaredLogarithmicError",
    "Metric",
    "Poisson",
    "Precision",
    "Recall",
    "RootMeanSquaredError",
    "SparseCategoricalAccuracy",
    "SparseCategoricalCrossentropy",
    "SparseTopKCategoricalAccuracy",
    "SquaredHinge",
    "Sum",
    "TopKCategoricalAccuracy",
    "accuracy",
    "binary_accuracy",
    "categorical_accuracy",
    "deserialize",
    "get",
    "serialize",
    "sparse_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
    "top_k_categorical_accuracy",
]

ALL_OBJECTS = {
    Metric,
    Mean,
    Sum,
    MeanMetricWrapper,
    MeanSquaredError,
    RootMeanSquaredError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError,
    CosineSimilarity,
    LogCoshError,
    AUC,
    Precision,
    Recall,
    Hinge,
    SquaredHinge,
    CategoricalHinge,
    KLDivergence,
    Poisson,
    BinaryCrossentropy,
    CategoricalCrossentropy,
    SparseCategoricalCrossentropy,
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    TopKCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
}
_ALIASES = {
    "bce": BinaryCrossentropy,
    "BCE": BinaryCrossentropy,
    "mse": MeanSquaredError,
    "MSE": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "MAE": MeanAbsoluteError,
    "mape": MeanAbsolutePercentageError,
    "MAPE": MeanAbsolutePercentageError,
    "msle": MeanSquaredLogarithmicError,
    "MSLE": MeanSquaredLogarithmicError,
}
_REGISTRY = Registry("metric", "densekit.metrics", ALL_OBJECTS, _ALIASES)
ALL_OBJECTS_DICT = _REGISTRY.objects_dict


def serialize(metric):
    """Serialize a metric to a Keras-shaped dict (its config, not its state).

    Examples
    --------
    >>> from densekit import metrics
    >>> metrics.serialize(metrics.BinaryAccuracy())["config"]
    {'name': 'binary_accuracy', 'dtype': 'float32', 'threshold': 0.5}
    """
    return _REGISTRY.serialize(metric)


def deserialize(config, custom_objects=None):
    """Rebuild a metric from :func:`serialize`'s dict or from a name."""
    return _REGISTRY.deserialize(config, custom_objects)


def get(identifier):
    """Resolve a metric identifier as Keras 3's ``metrics.get``.

    None -> None; str -> a default instance of the named class (exact class
    name, snake-case name or alias; 'accuracy' is :class:`Accuracy` here, compile
    resolves it with :func:`_resolve`); dict -> :func:`deserialize`; class ->
    instance; other callable -> itself.

    Raises
    ------
    ValueError
        "Could not interpret metric identifier: ..." for anything else.
    """
    return _REGISTRY.get(identifier)


def _resolve(identifier, y_true_shape, y_pred_shape, loss=None):
    """The Metric object compile makes of one ``metrics=[...]`` entry (Keras 3's
    ``compile_utils.get_metric``), named as it appears in the logs.

    'accuracy' and 'acc' (any case) become BinaryAccuracy when the model output's
    last axis is 1, SparseCategoricalAccuracy when the targets have lower rank than
    the output (or a last axis of 1 against several classes), else
    CategoricalAccuracy, named as written ('acc' logs as 'acc'). Keras 3 decides
    this from the SHAPES, not from the loss; `loss` is accepted and unused, so the
    trainer can pass it. Other strings go through :func:`get` and are named as
    written ('mse' logs as 'mse'); an instance keeps its name; a plain function
    is wrapped in :class:`MeanMetricWrapper` named after it. 'crossentropy' and
    'ce' are loss-only conveniences in Keras 3: as metrics they raise.

    Raises
    ------
    ValueError
        "Expected metric, received `None`" for None; "Could not interpret metric
        identifier: ..." for unknown names.
    """
    from densekit.losses import _is_binary_or_sparse_categorical, _object_name

    if identifier is None:
        raise ValueError("Expected metric, received `None`")
    if str(identifier).lower() not in ("accuracy", "acc"):
        obj = get(identifier)
    else:
        is_binary, is_sparse = _is_binary_or_sparse_categorical(tuple(y_true_shape),
                                                               tuple(y_pred_shape))
        if is_binary:
            obj = BinaryAccuracy(name=str(identifier))
        elif is_sparse:
            obj = SparseCategoricalAccuracy(name=str(identifier))
        else:
            obj = CategoricalAccuracy(name=str(identifier))
    name = identifier if isinstance(identifier, str) else _object_name(obj)
    if not isinstance(obj, Metric):
        obj = MeanMetricWrapper(obj)
    obj.name = name
    return obj
