"""Use densekit initializers in Keras 3 models that are saved, loaded and cloned.

densekit's initializers are Keras 3 initializers already: ``kernel_initializer=
densekit.initializers.HeNormal(seed=0)`` works in any Keras 3 model, on any
backend, and gives densekit's values. But a saved (``model.save("m.keras")``)
or cloned (``keras.models.clone_model``) model rebuilds its initializers from
their configs, and an unregistered ``{"class_name": "HeNormal", ...}`` is
silently resolved to Keras' own ``HeNormal``, with other values.

Importing this module fixes that: it registers every densekit initializer with
Keras' serialization (:func:`keras.saving.register_keras_serializable`, under
the package name ``"densekit"``), so configs record ``"registered_name":
"densekit>HeNormal"`` and load back as densekit's class with densekit's
values. Import it (or call :func:`register`, which is idempotent) before saving
and before loading::

    import densekit.keras  # registers densekit's initializers with Keras

Models saved before the registration name Keras' classes and still load as
Keras' initializers.

densekit's constraints and regularizers are not registered: they are numpy
kernels for densekit's own models. Inside a Keras model that is compiled (the
default ``jit_compile`` on JAX, ``tf.function``) they receive traced tensors;
use ``keras.constraints`` and ``keras.regularizers`` (same names and configs)
there.

Needs the ``keras`` extra: ``pip install 'densekit[keras]'`` (Keras 3 and one
of its backends: jax, torch or tensorflow).
"""

from densekit import initializers as _initializers

try:
    import keras as _keras
except ImportError as exc:  # pragma: no cover - exercised only without keras
    # Keras itself may be installed but fail to import its backend (TensorFlow
    # unless KERAS_BACKEND says otherwise): say which.
    raise ImportError(
        "densekit.keras needs Keras 3 and a backend: pip install 'densekit[keras]' "
        "(keras>=3 and jax, torch or tensorflow; choose one with KERAS_BACKEND). "
        f"Importing keras failed: {exc}"
    ) from exc

__all__ = ["PACKAGE", "register", "registered_name"]

#: The package part of the names densekit's classes are registered under.
PACKAGE = "densekit"


def _check_keras():
    version = getattr(_keras, "__version__", "0")
    try:
        major = int(version.split(".")[0])
    except ValueError:  # pragma: no cover - unreleased builds
        major = 3
    if major < 3:
        raise ImportError(
            f"densekit.keras needs Keras 3 (found keras {version}): "
            "pip install 'densekit[keras]'"
        )


def registered_name(cls):
    """Return the name Keras records for a densekit class: ``"densekit>" + name``.

    Parameters
    ----------
    cls : type
        A densekit initializer class (or an instance of one).

    Returns
    -------
    str

    Examples
    --------
    >>> import densekit.keras
    >>> from densekit.initializers import HeNormal
    >>> densekit.keras.registered_name(HeNormal)
    'densekit>HeNormal'
    """
    if not isinstance(cls, type):
        cls = type(cls)
    return f"{PACKAGE}>{cls.__name__}"


def register():
    """Register densekit's initializers as Keras-serializable objects.

    Every class in :data:`densekit.initializers.ALL_OBJECTS` is registered with
    ``keras.saving.register_keras_serializable(package="densekit")``, so that
    Keras serializes a densekit initializer as ``{"module": ..., "class_name":
    "HeNormal", "config": {"seed": 0}, "registered_name": "densekit>HeNormal"}``
    and deserializes that config (``keras.models.load_model``,
    ``keras.models.clone_model``, ``keras.initializers.get``) to the densekit
    class, with densekit's values. Nothing in densekit or Keras is modified
    besides Keras' registry of custom objects. Calling it again does nothing
    new. Importing :mod:`densekit.keras` calls it.

    Returns
    -------
    dict
        Registered name -> class, for every class registered.

    Examples
    --------
    >>> import densekit.keras
    >>> from densekit.initializers import HeNormal
    >>> import keras
    >>> names = densekit.keras.register()
    >>> names["densekit>HeNormal"] is HeNormal
    True
    >>> keras.saving.get_registered_object("densekit>HeNormal") is HeNormal
    True
    """
    _check_keras()
    decorate = _keras.saving.register_keras_serializable
    names = {}
    for cls in sorted(_initializers.ALL_OBJECTS, key=lambda c: c.__name__):
        decorate(package=PACKAGE, name=cls.__name__)(cls)
        names[registered_name(cls)] = cls
    return names


register()
