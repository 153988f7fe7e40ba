"""The name lookup shared by the Keras-shaped families.

initializers, constraints, regularizers and activations each resolve
identifiers the same way (Keras 3's ``get`` / ``serialize`` / ``deserialize``):
one :class:`Registry` per family holds the name -> object table and that logic,
and each family keeps its public functions, docstrings and its real
differences (noted where they are passed in).
"""

import inspect
import re

__all__ = ["Registry", "to_snake_case"]


def to_snake_case(name):
    """Keras' naming rule: "MaxNorm" -> "max_norm", "L1L2" -> "l1l2"."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


class Registry:
    """Resolve the identifiers of one family of Keras objects.

    Parameters
    ----------
    family : str
        The word in error messages: "Could not interpret <family> identifier: X".
    module : str
        The ``"module"`` recorded by :meth:`serialize` for the family's own objects.
    objects : set
        The family's ``ALL_OBJECTS`` (classes or functions).
    aliases : dict, optional
        Extra names, added after each object's ``__name__`` and snake_case name.
    default : object, optional
        What ``get(None)`` returns (activations: ``linear``).
    instantiate : bool, default=True
        Whether a class is called with no arguments to give a default instance
        (False for activations, where a class is just a callable).
    name_custom_classes : bool, default=False
        Whether :meth:`serialize` records a class outside `objects` under its
        own module and name as ``registered_name``, as Keras does (True for
        initializers), rather than under `module` with ``registered_name=None``.

    Attributes
    ----------
    objects_dict : dict
        Name -> object: the family's public ``ALL_OBJECTS_DICT`` (the same dict).
    """

    def __init__(self, family, module, objects, aliases=None, *, default=None,
                 instantiate=True, name_custom_classes=False):
        self.family = family
        self.module = module
        self.objects = objects
        self.default = default
        self.instantiate = instantiate
        self.name_custom_classes = name_custom_classes
        self.objects_dict = {obj.__name__: obj for obj in objects}
        self.objects_dict.update({to_snake_case(obj.__name__): obj for obj in objects})
        self.objects_dict.update(aliases or {})

    def error(self, identifier):
        """The ValueError for an identifier that names nothing in this family."""
        return ValueError(f"Could not interpret {self.family} identifier: {identifier}")

    def lookup(self, name, custom_objects=None):
        """`custom_objects` first, then the family's names; None if neither has `name`."""
        if custom_objects and name in custom_objects:
            return custom_objects[name]
        return self.objects_dict.get(name)

    def require(self, name, custom_objects, identifier):
        """:meth:`lookup`, raising :meth:`error` of `identifier` if nothing is found."""
        obj = self.lookup(name, custom_objects)
        if obj is None:
            raise self.error(identifier)
        return obj

    def _build(self, obj):
        return obj() if self.instantiate and inspect.isclass(obj) else obj

    def to_dict(self, obj):
        """Keras' ``{"module", "class_name", "config", "registered_name"}`` of `obj`."""
        cls = type(obj)
        own = not self.name_custom_classes or cls in self.objects
        return {
            "module": self.module if own else cls.__module__,
            "class_name": cls.__name__,
            "config": obj.get_config(),
            "registered_name": None if own else cls.__name__,
        }

    def serialize(self, obj):
        """None -> None; an object with ``get_config`` -> :meth:`to_dict`; else TypeError."""
        if obj is None:
            return None
        if not hasattr(obj, "get_config"):
            raise TypeError(
                f"Argument `{self.family}` must be a {self.family.capitalize()} "
                f"(an object with get_config). Received: {self.family}={obj!r}"
            )
        return self.to_dict(obj)

    def deserialize(self, config, custom_objects=None):
        """A name -> default instance; ``{"class_name", "config"}`` -> ``from_config``."""
        if isinstance(config, str):
            return self._build(self.require(config, custom_objects, config))
        if not isinstance(config, dict) or "class_name" not in config:
            raise self.error(config)
        cls = self.require(config["class_name"], custom_objects, config)
        return cls.from_config(dict(config.get("config") or {}))

    def get(self, identifier, deserialize=None):
        """Keras' ``get``: None -> `default`; str or dict -> `deserialize` (the
        family's, default :meth:`deserialize`); a class -> a default instance (if
        `instantiate`); another callable -> itself; anything else -> :meth:`error`.
        """
        if identifier is None:
            return self.default
        if isinstance(identifier, (dict, str)):
            obj = (deserialize or self.deserialize)(identifier)
        else:
            obj = identifier
        if callable(obj):
            return self._build(obj)
        raise self.error(identifier)
