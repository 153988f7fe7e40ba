"""Keras 3 initializers on densekit's deterministic, parallel samplers.

``from densekit import initializers`` gives the Keras 3 classes (with their
defaults), their snake_case aliases, ``get``, ``serialize`` and ``deserialize``.
Every initializer is called as ``init(shape, dtype=None, *, out=None,
n_threads=None)`` and has ``init.block(shape, index, ...)``, which returns
exactly ``init(shape)[index]`` while computing only that block.
"""

from densekit._registry import Registry
from densekit.initializers._layout import compute_fans
import numpy as np

from densekit.initializers.constant_initializers import (
    STFT,
    Constant,
    Identity,
    Ones,
    Zeros,
    _DirectTensor,
)
from densekit.initializers.initializer import Initializer
from densekit.initializers.random_initializers import (
    GlorotNormal,
    GlorotUniform,
    HeNormal,
    HeUniform,
    LecunNormal,
    LecunUniform,
    Orthogonal,
    RandomInitializer,
    RandomNormal,
    RandomUniform,
    TruncatedNormal,
    VarianceScaling,
)

# Keras' other names for the same classes.
IdentityInitializer = Identity
OrthogonalInitializer = Orthogonal
STFTInitializer = STFT

# The snake_case names Keras exports (they are the classes).
zeros = Zeros
ones = Ones
constant = Constant
random_normal = RandomNormal
random_uniform = RandomUniform
truncated_normal = TruncatedNormal
variance_scaling = VarianceScaling
glorot_normal = GlorotNormal
glorot_uniform = GlorotUniform
he_normal = HeNormal
he_uniform = HeUniform
lecun_normal = LecunNormal
lecun_uniform = LecunUniform
orthogonal = Orthogonal
identity = Identity
stft = STFT

ALL_OBJECTS = {
    Initializer,
    Constant,
    Identity,
    Ones,
    Zeros,
    GlorotNormal,
    GlorotUniform,
    HeNormal,
    HeUniform,
    LecunNormal,
    LecunUniform,
    RandomNormal,
    TruncatedNormal,
    RandomUniform,
    VarianceScaling,
    Orthogonal,
    STFT,
}


# Keras' extra names; a class outside ALL_OBJECTS serializes under its own
# module and name, as Keras records it.
_REGISTRY = Registry(
    "initializer",
    "densekit.initializers",
    ALL_OBJECTS,
    {
        "uniform": RandomUniform,
        "normal": RandomNormal,
        "one": Ones,
        "zero": Zeros,
        "IdentityInitializer": Identity,
        "OrthogonalInitializer": Orthogonal,
        "STFTInitializer": STFT,
    },
    name_custom_classes=True,
)
ALL_OBJECTS_DICT = _REGISTRY.objects_dict

__all__ = [
    "ALL_OBJECTS",
    "ALL_OBJECTS_DICT",
    "Constant",
    "GlorotNormal",
    "GlorotUniform",
    "HeNormal",
    "HeUniform",
    "Identity",
    "IdentityInitializer",
    "Initializer",
    "LecunNormal",
    "LecunUniform",
    "Ones",
    "Orthogonal",
    "OrthogonalInitializer",
    "RandomInitializer",
    "RandomNormal",
    "RandomUniform",
    "STFT",
    "STFTInitializer",
    "TruncatedNormal",
    "VarianceScaling",
    "Zeros",
    "compute_fans",
    "constant",
    "deserialize",
    "get",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "identity",
    "lecun_normal",
    "lecun_uniform",
    "ones",
    "orthogonal",
    "random_normal",
    "random_uniform",
    "serialize",
    "stft",
    "truncated_normal",
    "variance_scaling",
    "zeros",
]


def serialize(initializer):
    """Return the configuration of `initializer` as a JSON-serializable dict.

    Parameters
    ----------
    initializer : Initializer or None

    Returns
    -------
    dict or None
        ``{"module": "densekit.initializers", "class_name": ..., "config":
        initializer.get_config(), "registered_name": None}`` (for a class of
        your own, `module` is its module and `registered_name` its name).

    Examples
    --------
    >>> from densekit.initializers import HeNormal, serialize
    >>> serialize(HeNormal(seed=3))
    {'module': 'densekit.initializers', 'class_name': 'HeNormal', 'config': {'seed': 3, \
'input_axes': None, 'output_axes': None}, 'registered_name': None}
    """
    # Unlike constraints and regularizers: a name passes through, and no
    # get_config is a ValueError.
    if initializer is None or isinstance(initializer, str):
        return initializer
    if not hasattr(initializer, "get_config"):
        raise ValueError(
            f"Cannot serialize {initializer!r}: it has no `get_config()` method."
        )
    return _REGISTRY.to_dict(initializer)


def deserialize(config, custom_objects=None):
    """Build an initializer from :func:`serialize`'s output (or a name).

    Parameters
    ----------
    config : dict or str
        ``{"class_name": ..., "config": {...}}`` (other keys are ignored), or a
        class name, snake_case name or alias.
    custom_objects : dict, optional
        Extra name -> class mappings, searched first.

    Returns
    -------
    Initializer

    Raises
    ------
    ValueError
        If the name is unknown ("Could not interpret initializer identifier: ...").
    """
    # Stricter than the shared Registry.deserialize: None passes through, a
    # name is always called, `registered_name` is tried before `class_name`,
    # and "config" must be a dict.
    if config is None:
        return None
    if isinstance(config, str):
        return _REGISTRY.require(config, custom_objects, config)()
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise _REGISTRY.error(config)
    name = config.get("registered_name") or config["class_name"]
    cls = _REGISTRY.lookup(name, custom_objects) or _REGISTRY.require(
        config["class_name"], custom_objects, config
    )
    inner = config.get("config") or {}
    if not isinstance(inner, dict):
        raise _REGISTRY.error(config)
    return cls.from_config(inner)


def get(identifier):
    """Return an initializer for `identifier`, as ``keras.initializers.get`` does.

    Parameters
    ----------
    identifier : None, str, dict, class, Initializer or callable
        None gives None; a class name, snake_case name or alias (``"normal"``,
        ``"uniform"``, ``"zero"``, ``"one"``, ``"IdentityInitializer"``,
        ``"OrthogonalInitializer"``; case-sensitive) gives a default instance; a
        config dict is deserialized; a class is instantiated; an instance or
        any other callable is returned as is. A numpy array gives an
        initializer returning (a copy of) that array, for its own shape only
        (any other shape is a ValueError), as Keras does for a tensor.

    Returns
    -------
    Initializer or callable or None

    Raises
    ------
    ValueError
        "Could not interpret initializer identifier: ..." for anything else.

    Examples
    --------
    >>> from densekit import initializers
    >>> initializers.get("he_normal")
    HeNormal(seed=None, input_axes=None, output_axes=None)
    >>> initializers.get({"class_name": "RandomUniform", "config": {"seed": 1}})
    RandomUniform(minval=-0.05, maxval=0.05, seed=1)
    """
    if isinstance(identifier, np.ndarray):
        return _DirectTensor(identifier)
    return _REGISTRY.get(identifier, deserialize)
