"""Weight regularizers (Keras 3 API): L1, L2, L1L2, OrthogonalRegularizer.

``get(identifier)`` accepts None, a class name (``"L1L2"``), its snake_case
name (``"l1l2"``), the alias ``"l1_l2"`` (which Keras 3.15's ``get`` rejects), a
serialized dict, a class (instantiated with defaults) or any callable.
"""

from densekit._registry import Registry
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

ALL_OBJECTS = {Regularizer, L1, L2, L1L2, OrthogonalRegularizer}
_REGISTRY = Registry("regularizer", "densekit.regularizers", ALL_OBJECTS, {"l1_l2": L1L2})
ALL_OBJECTS_DICT = _REGISTRY.objects_dict

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
    return _REGISTRY.serialize(regularizer)


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
    return _REGISTRY.deserialize(config, custom_objects)


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
    return _REGISTRY.get(identifier)
