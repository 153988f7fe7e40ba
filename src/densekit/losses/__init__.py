"""Losses (Keras 3 API) with gradients for training, on parallel Cython kernels.

Classes: MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError,
MeanSquaredLogarithmicError, Huber, LogCosh, BinaryCrossentropy,
CategoricalCrossentropy, SparseCategoricalCrossentropy, Hinge, SquaredHinge,
CategoricalHinge, KLDivergence, Poisson, CosineSimilarity (and the bases Loss,
LossFunctionWrapper). Each has a function form returning per-sample values
(``mean_squared_error``, ...), and Keras' aliases ('mse', 'mae', 'mape',
'msle', 'kld', 'bce' and their upper-case forms).

``get(identifier)`` follows Keras 3: None -> None; a string names a class (an
instance with defaults) or a function (returned as is: ``get('mse')`` is the
function :func:`mean_squared_error`); a dict is deserialized; a class is
instantiated; other callables are returned. The trainer turns functions into
:class:`LossFunctionWrapper` with :func:`_resolve`, as Keras' compile does.

Training API (see :class:`LossFunctionWrapper`): ``loss.value_and_grad(y_true,
y_pred, sample_weight=None, out=None, n_threads=None)`` and, for a softmax or
sigmoid last layer, ``loss.can_fuse(activation)`` /
``loss.fused_value_and_grad(y_true, logits, activation, ...)``.
"""

import inspect

from densekit._registry import Registry
from densekit.losses.loss import (
    Loss,
    reduce_weighted_values,
    squeeze_or_expand_to_same_rank,
    standardize_reduction,
)
from densekit.losses.losses import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    CategoricalHinge,
    CosineSimilarity,
    Hinge,
    Huber,
    KLDivergence,
    LogCosh,
    LossFunctionWrapper,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    Poisson,
    SparseCategoricalCrossentropy,
    SquaredHinge,
    binary_crossentropy,
    categorical_crossentropy,
    categorical_hinge,
    cosine_similarity,
    hinge,
    huber,
    kl_divergence,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
    poisson,
    sparse_categorical_crossentropy,
    squared_hinge,
)

__all__ = [
    "ALL_OBJECTS",
    "ALL_OBJECTS_DICT",
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "CategoricalHinge",
    "CosineSimilarity",
    "Hinge",
    "Huber",
    "KLDivergence",
    "LogCosh",
    "Loss",
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
    "deserialize",
    "get",
    "hinge",
    "huber",
    "kl_divergence",
    "log_cosh",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "mean_squared_logarithmic_error",
    "poisson",
    "reduce_weighted_values",
    "serialize",
    "sparse_categorical_crossentropy",
    "squared_hinge",
    "squeeze_or_expand_to_same_rank",
    "standardize_reduction",
]

_CLASSES = {
    Loss,
    LossFunctionWrapper,
    KLDivergence,
    Poisson,
    BinaryCrossentropy,
    CategoricalCrossentropy,
    SparseCategoricalCrossentropy,
    MeanSquaredError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError,
    CosineSimilarity,
    LogCosh,
    Huber,
    Hinge,
    SquaredHinge,
    CategoricalHinge,
}
_FUNCTIONS = {
    kl_divergence,
    poisson,
    binary_crossentropy,
    categorical_crossentropy,
    sparse_categorical_crossentropy,
    mean_squared_error,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_logarithmic_error,
    cosine_similarity,
    log_cosh,
    huber,
    hinge,
    squared_hinge,
    categorical_hinge,
}
ALL_OBJECTS = _CLASSES | _FUNCTIONS
_ALIASES = {
    "bce": binary_crossentropy,
    "BCE": binary_crossentropy,
    "kld": kl_divergence,
    "KLD": kl_divergence,
    "mae": mean_absolute_error,
    "MAE": mean_absolute_error,
    "mse": mean_squared_error,
    "MSE": mean_squared_error,
    "mape": mean_absolute_percentage_error,
    "MAPE": mean_absolute_percentage_error,
    "msle": mean_squared_logarithmic_error,
    "MSLE": mean_squared_logarithmic_error,
}
_REGISTRY = Registry("loss", "densekit.losses", ALL_OBJECTS, _ALIASES)
ALL_OBJECTS_DICT = _REGISTRY.objects_dict
# A class's snake-case name is its function's name ('mean_squared_error'):
# Keras' table maps it to the function, so the functions win.
ALL_OBJECTS_DICT.update({fn.__name__: fn for fn in _FUNCTIONS})
ALL_OBJECTS_DICT.update(_ALIASES)


def serialize(loss):
    """Serialize a loss (instance or built-in function) to a Keras-shaped dict.

    A function gives Keras 3's function record, ``{"module": "builtins",
    "class_name": "function", "config": <name>, "registered_name": "function"}``.

    Examples
    --------
    >>> from densekit import losses
    >>> losses.serialize(losses.MeanAbsoluteError())["config"]
    {'name': 'mean_absolute_error', 'reduction': 'sum_over_batch_size'}
    """
    if loss is not None and inspect.isfunction(loss):
        return {"module": "builtins", "class_name": "function", "config": loss.__name__,
                "registered_name": "function"}
    return _REGISTRY.serialize(loss)


def deserialize(config, custom_objects=None):
    """Rebuild a loss from :func:`serialize`'s dict or from a name (see :func:`get`)."""
    if isinstance(config, dict) and config.get("class_name") == "function":
        name = config.get("config")
        fn = _REGISTRY.lookup(name, custom_objects) if isinstance(name, str) else None
        if fn is None:
            raise _REGISTRY.error(config)
        return fn
    return _REGISTRY.deserialize(config, custom_objects)


def get(identifier):
    """Resolve a loss identifier as Keras 3's ``losses.get`` does.

    None -> None; str -> the named class (a default instance) or function
    (itself), case-sensitive; dict -> :func:`deserialize`; class -> default
    instance; other callable -> itself.

    Raises
    ------
    ValueError
        "Could not interpret loss identifier: ..." for anything else.

    Examples
    --------
    >>> from densekit import losses
    >>> losses.get("mse").__name__
    'mean_squared_error'
    >>> losses.get("Huber").get_config()
    {'name': 'huber_loss', 'reduction': 'sum_over_batch_size', 'delta': 1.0}
    """
    return _REGISTRY.get(identifier, deserialize)


def _object_name(obj):
    """Keras' ``get_object_name``: .name, else the snake-case __name__ or class name."""
    from densekit._registry import to_snake_case

    if hasattr(obj, "name"):
        return obj.name
    if hasattr(obj, "__name__"):
        return to_snake_case(obj.__name__)
    return to_snake_case(type(obj).__name__)


def _is_binary_or_sparse_categorical(y_true_shape, y_pred_shape):
    """Keras' compile_utils rule on shapes: (is_binary, is_sparse_categorical)."""
    y_t_rank, y_p_rank = len(y_true_shape), len(y_pred_shape)
    y_t_last = y_true_shape[-1] if y_t_rank else None
    y_p_last = y_pred_shape[-1] if y_p_rank else None
    is_binary = y_p_last == 1
    is_sparse = y_t_rank < y_p_rank or (y_t_last == 1 and y_p_last is not None and y_p_last > 1)
    return is_binary, is_sparse


def _resolve(identifier, y_true_shape, y_pred_shape):
    """The Loss object the trainer computes with, as Keras 3's compile_utils.get_loss.

    'crossentropy' / 'ce' (any case) become binary, sparse categorical or
    categorical crossentropy from the shapes of the targets and the model output
    (a last axis of 1 -> binary; targets of lower rank, or a last axis of 1 against
    several classes -> sparse; else categorical). Anything else goes through
    :func:`get`. A function (or a non-Loss callable) is wrapped in a
    :class:`LossFunctionWrapper` named after the string identifier, or the
    function's snake-case name. None -> None.
    """
    if identifier is None:
        return None
    if str(identifier).lower() in ("crossentropy", "ce"):
        is_binary, is_sparse = _is_binary_or_sparse_categorical(tuple(y_true_shape),
                                                               tuple(y_pred_shape))
        if is_binary:
            obj = binary_crossentropy
        elif is_sparse:
            obj = sparse_categorical_crossentropy
        else:
            obj = categorical_crossentropy
    else:
        obj = get(identifier)
    if not isinstance(obj, Loss):
        name = identifier if isinstance(identifier, str) else _object_name(obj)
        obj = LossFunctionWrapper(obj, name=name)
    return obj
