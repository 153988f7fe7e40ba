"""Optimizers (Keras 3 API): SGD, Adam, AdamW, RMSprop, Adagrad, Adamax, Nadam.

Weights are numpy arrays updated in place (``optimizer.apply(grads, weights)``);
each parameter's step is one fused, parallel, thread-count-independent pass.
``get(identifier)`` accepts None, an optimizer instance, a config dict or a
name, case-insensitively ("adam", "Adam", "rmsprop", "SGD", ...), as Keras does.
"""

from densekit._registry import Registry
from densekit.optimizers import schedules
from densekit.optimizers.adagrad import Adagrad
from densekit.optimizers.adam import Adam
from densekit.optimizers.adamax import Adamax
from densekit.optimizers.adamw import AdamW
from densekit.optimizers.base_optimizer import Optimizer
from densekit.optimizers.nadam import Nadam
from densekit.optimizers.rmsprop import RMSprop
from densekit.optimizers.sgd import SGD

__all__ = [
    "ALL_OBJECTS",
    "ALL_OBJECTS_DICT",
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "Nadam",
    "Optimizer",
    "RMSprop",
    "deserialize",
    "get",
    "schedules",
    "serialize",
]

ALL_OBJECTS = {Optimizer, SGD, Adam, AdamW, RMSprop, Adagrad, Adamax, Nadam}
# Keras keys its optimizers by lower-case class name and lower-cases the name it
# is asked for, so "adam", "Adam" and "ADAM" all work.
ALL_OBJECTS_DICT = {cls.__name__.lower(): cls for cls in ALL_OBJECTS}
_REGISTRY = Registry("optimizer", "densekit.optimizers", ALL_OBJECTS)


def serialize(optimizer):
    """Serialize an optimizer to a Keras-shaped dict (its state is not included).

    Examples
    --------
    >>> from densekit import optimizers
    >>> d = optimizers.serialize(optimizers.SGD(name="sgd"))
    >>> d["class_name"], d["config"]["learning_rate"], d["config"]["momentum"]
    ('SGD', 0.009999999776482582, 0.0)
    """
    return _REGISTRY.serialize(optimizer)


def deserialize(config, custom_objects=None):
    """Rebuild an optimizer from :func:`serialize`'s dict (class names case-insensitive).

    Parameters
    ----------
    config : dict
        ``{"class_name": ..., "config": {...}}``; other keys are ignored.
    custom_objects : dict, optional
        Extra name -> class mapping, searched first.

    Raises
    ------
    ValueError
        "Could not interpret optimizer identifier: ..." for an unknown name.
    """
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise _REGISTRY.error(config)
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or ALL_OBJECTS_DICT.get(name.lower())
    if cls is None:
        raise _REGISTRY.error(name)
    return cls.from_config(dict(config.get("config") or {}), custom_objects=custom_objects)


def get(identifier):
    """Resolve an optimizer identifier.

    None -> None; an :class:`Optimizer` -> itself; a dict -> :func:`deserialize`;
    a str -> a default instance of the class of that name, case-insensitively
    ("sgd", "adam", "adamw", "rmsprop", "adagrad", "adamax", "nadam").

    Raises
    ------
    ValueError
        "Could not interpret optimizer identifier: ..." for anything else
        (including a class, as in Keras).

    Examples
    --------
    >>> from densekit import optimizers
    >>> type(optimizers.get("RMSprop")).__name__
    'RMSprop'
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        obj = deserialize({"class_name": identifier, "config": {}})
    else:
        obj = identifier
    if isinstance(obj, Optimizer):
        return obj
    raise _REGISTRY.error(identifier)
