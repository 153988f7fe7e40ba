"""Weight regularizers (Keras 3 API): L1, L2, L1L2, OrthogonalRegularizer.

``get(identifier)`` accepts None, a class name (``"L1L2"``), its snake_case
name (``"l1l2"``), the alias ``"l1_l2"`` (which Keras 3.15's ``get`` rejects), a
serialized dict, a class (instantiated with defaults) or any callable.
"""

import inspect
import re

from densekit.regularizers.regularizers import (
    L1,
    L1L2,
    L2,
    OrthogonalRegularizer,
    Regularizer,
)

__all__ = [
    "ALL_OBJECTS",
    "ALL_OBJECTS_DICT",
    "L1",
    "L1L2",
    "L2",
    "OrthogonalRegularizer",
    "Regularizer",
    "deserialize",
    "get",
    "l1",
    "l1_l2",
    "l2",
    "orthogonal_regularizer",
    "serialize",
]

_MODULE = "densekit.regularizers"
_FAMILY = "regularizer"


def _to_snake_case(name):
    """Keras' naming rule: "OrthogonalRegularizer" -> "orthogonal_regularizer", "L1L2" -> "l1l2"."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


ALL_OBJECTS = {Regularizer, L1, L2, L1L2, OrthogonalRegularizer}
ALL_OBJECTS_DICT = {cls.__name__: cls for cls in ALL_OBJECTS}
ALL_OBJECTS_DICT.update({_to_snake_case(cls.__name__): cls for cls in ALL_OBJECTS})
ALL_OBJECTS_DICT["l1_l2"] = L1L2

l1 = L1
l2 = L2
l1_l2 = L1L2
orthogonal_regularizer = OrthogonalRegularizer


def serialize(regularizer):
    """Serialize a regularizer to a Keras-shaped dict (None stays None).

    Examples
    --------
    >>> from densekit import regularizers
    >>> regularizers.serialize(regularizers.L2(0.5))
    {'module': 'densekit.regularizers', 'class_name': 'L2', 'config': {'l2': 0.5}, 'registered_name': None}
    """
    if regularizer is None:
        return None
    if not hasattr(regularizer, "get_config"):
        raise TypeError(
            "Argument `regularizer` must be a Regularizer (an object with get_config). "
            f"Received: regularizer={regularizer!r}"
        )
    return {
        "module": _MODULE,
        "class_name": type(regularizer).__name__,
        "config": regularizer.get_config(),
        "registered_name": None,
    }


def _lookup(name, custom_objects):
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    return ALL_OBJECTS_DICT.get(name)


def deserialize(config, custom_objects=None):
    """Rebuild a regularizer from :func:`serialize`'s dict or from a name.

    Parameters
    ----------
    config : dict or str
        ``{"class_name": ..., "config": {...}}`` (other keys are ignored), or a
        name accepted by :func:`get`, which gives a default instance.
    custom_objects : dict, optional
        Extra name -> class mapping, searched first.
    """
    if isinstance(config, str):
        cls = _lookup(config, custom_objects)
        if cls is None:
            raise ValueError(f"Could not interpret {_FAMILY} identifier: {config}")
        return cls() if inspect.isclass(cls) else cls
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Could not interpret {_FAMILY} identifier: {config}")
    cls = _lookup(config["class_name"], custom_objects)
    if cls is None:
        raise ValueError(f"Could not interpret {_FAMILY} identifier: {config}")
    return cls.from_config(dict(config.get("config") or {}))


def get(identifier):
    """Resolve a regularizer identifier.

    None -> None; dict -> :func:`deserialize`; str -> default instance of the
    named class ("L1", "l1", "L2", "l2", "L1L2", "l1l2", "l1_l2",
    "OrthogonalRegularizer", "orthogonal_regularizer"; case-sensitive); class ->
    default instance; other callable -> itself.

    Raises
    ------
    ValueError
        "Could not interpret regularizer identifier: ..." for anything else.

    Examples
    --------
    >>> from densekit import regularizers
    >>> regularizers.get("l1_l2").get_config()
    {'l1': 0.0, 'l2': 0.0}
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        obj = ALL_OBJECTS_DICT.get(identifier)
    else:
        obj = identifier
    if callable(obj):
        return obj() if inspect.isclass(obj) else obj
    raise ValueError(f"Could not interpret {_FAMILY} identifier: {identifier}")
