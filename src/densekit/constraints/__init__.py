"""Weight constraints (Keras 3 API): MaxNorm, MinMaxNorm, NonNeg, UnitNorm.

``get(identifier)`` accepts None, a class name (``"MaxNorm"``) or its snake_case
name (``"max_norm"``), a serialized dict, a class (instantiated with defaults) or
any callable.
"""

import inspect
import re

from densekit.constraints.constraints import (
    Constraint,
    MaxNorm,
    MinMaxNorm,
    NonNeg,
    UnitNorm,
)

__all__ = [
    "ALL_OBJECTS",
    "ALL_OBJECTS_DICT",
    "Constraint",
    "MaxNorm",
    "MinMaxNorm",
    "NonNeg",
    "UnitNorm",
    "deserialize",
    "get",
    "max_norm",
    "min_max_norm",
    "non_neg",
    "serialize",
    "unit_norm",
]

_MODULE = "densekit.constraints"
_FAMILY = "constraint"


def _to_snake_case(name):
    """Keras' naming rule: "MaxNorm" -> "max_norm", "L1L2" -> "l1l2"."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


ALL_OBJECTS = {Constraint, MaxNorm, MinMaxNorm, NonNeg, UnitNorm}
ALL_OBJECTS_DICT = {cls.__name__: cls for cls in ALL_OBJECTS}
ALL_OBJECTS_DICT.update({_to_snake_case(cls.__name__): cls for cls in ALL_OBJECTS})

max_norm = MaxNorm
min_max_norm = MinMaxNorm
non_neg = NonNeg
unit_norm = UnitNorm


def serialize(constraint):
    """Serialize a constraint to a Keras-shaped dict (None stays None).

    Examples
    --------
    >>> from densekit import constraints
    >>> constraints.serialize(constraints.MaxNorm(3))
    {'module': 'densekit.constraints', 'class_name': 'MaxNorm', 'config': {'max_value': 3, 'axis': 0}, 'registered_name': None}
    """
    if constraint is None:
        return None
    if not hasattr(constraint, "get_config"):
        raise TypeError(
            "Argument `constraint` must be a Constraint (an object with get_config). "
            f"Received: constraint={constraint!r}"
        )
    return {
        "module": _MODULE,
        "class_name": type(constraint).__name__,
        "config": constraint.get_config(),
        "registered_name": None,
    }


def _lookup(name, custom_objects):
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    return ALL_OBJECTS_DICT.get(name)


def deserialize(config, custom_objects=None):
    """Rebuild a constraint from :func:`serialize`'s dict or from a name.

    Parameters
    ----------
    config : dict or str
        ``{"class_name": ..., "config": {...}}`` (other keys are ignored), or a
        class name / snake_case name, which gives a default instance.
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
    """Resolve a constraint identifier.

    None -> None; dict -> :func:`deserialize`; str -> default instance of the
    named class (exact class name or snake_case name, case-sensitive); class ->
    default instance; other callable -> itself.

    Raises
    ------
    ValueError
        "Could not interpret constraint identifier: ..." for anything else.

    Examples
    --------
    >>> from densekit import constraints
    >>> constraints.get("MaxNorm").get_config()
    {'max_value': 2, 'axis': 0}
    >>> constraints.get("max_norm").get_config()
    {'max_value': 2, 'axis': 0}
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
