"""Keras 3 activations: ``from densekit import activations``.

``get`` resolves what a layer's ``activation=`` argument may be (None, a name,
a config dict, a callable); ``serialize`` / ``deserialize`` round-trip names.
"""

import types

from densekit._registry import Registry
from densekit.activations import activations as _activations
# Every declared activation, the aliases swish / hard_swish, and fused_code.
from densekit.activations.activations import *  # noqa: F403

__all__ = [
    "ALL_OBJECTS",
    "ALL_OBJECTS_DICT",
    "deserialize",
    "get",
    "serialize",
    *_activations.__all__,
]

# One per row of the declaration table (densekit/activations/activations.py).
ALL_OBJECTS = {entry.function for entry in _activations._ACTIVATIONS.values()}

# Keras' extra names are the same function objects as silu / hard_silu. The
# names are already snake_case; get(None) is linear and a class is not called.
_REGISTRY = Registry(
    "activation function",
    "densekit.activations",
    ALL_OBJECTS,
    {"swish": swish, "hard_swish": hard_swish},
    default=linear,
    instantiate=False,
)
ALL_OBJECTS_DICT = _REGISTRY.objects_dict


def serialize(activation):
    """Return the config of an activation: its name, as Keras does for built-ins.

    Parameters
    ----------
    activation : callable
        A densekit activation (``serialize(swish) == 'silu'``, since Keras'
        aliases are the same function objects), or another Python function.

    Returns
    -------
    str or dict
        The name for densekit activations; for another named Python function,
        Keras' dict ``{"module", "class_name": "function", "config": name,
        "registered_name": name}``, which ``deserialize`` resolves through
        `custom_objects`.

    Raises
    ------
    ValueError
        If `activation` is not a named function.
    """
    if activation in ALL_OBJECTS:
        return activation.__name__
    if isinstance(activation, types.FunctionType) and activation.__name__ != "<lambda>":
        return {
            "module": activation.__module__,
            "class_name": "function",
            "config": activation.__name__,
            "registered_name": activation.__name__,
        }
    raise ValueError(
        f"Unknown activation function '{activation}' cannot be serialized due to "
        "invalid function name. Make sure to use an activation name that matches "
        "the references defined in activations.py."
    )


def deserialize(config, custom_objects=None):
    """Return the activation function named by `config` (a str or a serialize() dict).

    `custom_objects` (a dict name -> callable) is searched before densekit's
    own names. Unknown names raise ValueError.
    """
    if custom_objects is not None and not isinstance(custom_objects, dict):
        raise TypeError(
            "Argument `custom_objects` must be a dict or None. "
            f"Received: custom_objects={custom_objects!r}"
        )
    custom_objects = custom_objects or {}
    name = config
    if isinstance(config, dict):
        if "config" not in config:
            raise _REGISTRY.error(config)
        name = config["config"]
        if isinstance(name, dict):  # {"class_name": ..., "config": {...}} of an object
            raise _REGISTRY.error(config)
        for key in (config.get("registered_name"), name):
            if isinstance(key, str) and key in custom_objects:
                return custom_objects[key]
    if not isinstance(name, str):
        raise _REGISTRY.error(config)
    if name in custom_objects:
        return custom_objects[name]
    if name in ALL_OBJECTS_DICT:
        return ALL_OBJECTS_DICT[name]
    raise _REGISTRY.error(config)


def get(identifier):
    """Resolve an activation identifier, as ``keras.activations.get``.

    Parameters
    ----------
    identifier : None, str, dict or callable
        None gives :func:`linear`; a string is an exact, case-sensitive name
        (plus the aliases ``'swish'`` and ``'hard_swish'``); a dict goes
        through :func:`deserialize`; a callable is returned as is.

    Returns
    -------
    callable

    Raises
    ------
    ValueError
        "Could not interpret activation function identifier: X".

    Examples
    --------
    >>> from densekit import activations
    >>> activations.get("relu") is activations.relu
    True
    >>> activations.get(None) is activations.linear
    True
    """
    return _REGISTRY.get(identifier, deserialize)
