"""Keras-shaped models: `Sequential`, `model_from_json` for its JSON, and `load_model`
for whole-model `.keras` files."""

from densekit.models._saving import load_model as _load_model
from densekit.models.sequential import Sequential, model_from_json

__all__ = ["Sequential", "load_model", "model_from_json"]


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Load a model from a Keras 3 `.keras` archive (written by densekit or by Keras).

    Parameters
    ----------
    filepath : str, os.PathLike or binary file object
        A path ending in '.keras', or an open binary file.
    custom_objects : dict, optional
        Names to extra classes (layers, initializers, ...) the config uses.
    compile : bool, default=True
        If the file holds a compiled model, compile the loaded model through its
        ``compile_from_config`` and restore the optimizer's state (iterations,
        learning rate, slots), so that training resumes where it stopped.
    safe_mode : bool, default=True
        Accepted for Keras compatibility. densekit never runs code stored in a
        file (a Python lambda in the config is refused whatever its value).

    Returns
    -------
    Sequential

    Raises
    ------
    ValueError
        For a missing file or a wrong extension (Keras' messages), and for any
        archive densekit will not read: a member other than config.json,
        metadata.json and model.weights.h5 (such as a path-traversal name), a
        declared size larger than the model needs, malformed JSON, a config that
        is not a supported Sequential, weights or optimizer state that do not
        match the architecture, or HDF5 external storage and links.

    Examples
    --------
    >>> import os, tempfile
    >>> from densekit.layers import Dense, Input
    >>> from densekit.models import Sequential, load_model
    >>> model = Sequential([Input(shape=(4,)), Dense(2)])
    >>> with tempfile.TemporaryDirectory() as d:
    ...     model.save(os.path.join(d, "m.keras"))
    ...     load_model(os.path.join(d, "m.keras")).get_config() == model.get_config()
    True
    """
    return _load_model(filepath, custom_objects=custom_objects, compile=compile,
                       safe_mode=safe_mode)
