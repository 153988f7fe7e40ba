"""Weight constraints (Keras 3 API): MaxNorm, MinMaxNorm, NonNeg, UnitNorm.

``get(identifier)`` accepts None, a class name (``"MaxNorm"``) or its snake_case
name (``"max_norm"``), a serialized dict, a class (instantiated with defaults) or
any callable.
"""

from densekit._registry import Registry
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

ALL_OBJECTS = {Constraint, MaxNorm, MinMaxNorm, NonNeg, UnitNorm}
_REGISTRY = Registry("constraint", "densekit.constraints", ALL_OBJECTS)
ALL_OBJECTS_DICT = _REGISTRY.objects_dict

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
    return _REGISTRY.serialize(constraint)


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
    return _REGISTRY.deserialize(config, custom_objects)


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
    return _REGISTRY.get(identifier)
