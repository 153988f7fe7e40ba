"""Keras-shaped layers: `Dense`, `Activation`, `Dropout`, `Flatten`, `Reshape`,
`Input`/`InputLayer` and the `Layer` base."""

from densekit.layers.activation import Activation
from densekit.layers.dense import Dense
from densekit.layers.dropout import Dropout
from densekit.layers.input_layer import Input, InputLayer
from densekit.layers.layer import Layer
from densekit.layers.reshaping import Flatten, Reshape

__all__ = ["Activation", "Dense", "Dropout", "Flatten", "Input", "InputLayer", "Layer",
           "Reshape", "deserialize", "serialize"]

ALL_OBJECTS = {Activation, Dense, Dropout, Flatten, InputLayer, Reshape}
ALL_OBJECTS_DICT = {cls.__name__: cls for cls in ALL_OBJECTS}


def serialize(layer):
    """A layer as ``{"module", "class_name", "config", "registered_name"}`` (+ build_config)."""
    if not isinstance(layer, Layer):
        raise ValueError(f"Could not serialize {layer!r}: it is not a densekit Layer.")
    record = {
        "module": "densekit.layers",
        "class_name": type(layer).__name__,
        "config": layer.get_config(),
        "registered_name": None,
    }
    if layer.built and not isinstance(layer, InputLayer) and layer._build_input_shape:
        record["build_config"] = {"input_shape": layer._build_input_shape}
    return record


def deserialize(config, custom_objects=None):
    """A new layer from :func:`serialize` output (or a Keras 3 layer record).

    `custom_objects` maps class names to extra Layer subclasses.
    """
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            "A layer config must be a dict with 'class_name' and 'config' keys. "
            f"Received: config={config!r}"
        )
    name = config["class_name"]
    table = dict(ALL_OBJECTS_DICT)
    table.update(custom_objects or {})
    if name not in table:
        raise ValueError(
            f"Unknown layer: '{name}'. densekit knows {sorted(table)}; pass other "
            "classes through `custom_objects`."
        )
    layer = table[name].from_config(config.get("config", {}))
    build_config = config.get("build_config")
    if build_config and build_config.get("input_shape") is not None and not layer.built:
        layer.build(tuple(build_config["input_shape"]))
    return layer
