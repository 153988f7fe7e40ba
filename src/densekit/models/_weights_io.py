"""Weight files: Keras 3's `.weights.h5` layout, and `.npz` with the same paths.

Keras 3 (``keras/src/saving/saving_lib.py``: ``save_weights_only`` and
``H5IOStore``) writes, for a Sequential model::

    /vars                      group, attrs {"name": <model name>}, no datasets
    /layers/<key>/vars         group, attrs {"name": <layer name>}
    /layers/<key>/vars/0, 1    datasets: kernel, then bias (in the variable dtype)

where <key> is NOT the layer name but the snake-case class name made unique
within the `layers` list in order ('dense', 'dense_1', 'activation', ...), so a
file does not depend on auto-generated names. Layers without weights (an
Activation) still get their `vars` group. The file has no other metadata.
The `.npz` format stores each dataset under the same path ('layers/dense/vars/0').
"""

import os

import numpy as np

from densekit.layers.layer import to_snake_case

__all__ = ["layer_paths", "load_weights", "save_weights"]

_H5_HINT = (
    "Saving and loading `.weights.h5` files requires h5py: "
    "`pip install h5py` (or `pip install densekit[h5]`)."
)


def _import_h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError(_H5_HINT) from None
    return h5py


def layer_paths(model):
    """[(group path, layer)] in Keras' naming: 'layers/dense', 'layers/dense_1', ..."""
    used = {}
    out = []
    for layer in model.layers:
        key = to_snake_case(type(layer).__name__)
        if key in used:
            used[key] += 1
            key = f"{key}_{used[key]}"
        else:
            used[key] = 0
        out.append((f"layers/{key}", layer))
    return out


def _format(filepath, saving):
    try:
        path = os.fspath(filepath)
    except TypeError:
        path = None
    if not isinstance(path, str):
        raise TypeError(f"Argument `filepath` must be a str or path. Received: {filepath!r}")
    if path.endswith(".npz"):
        return path, "npz"
    if path.endswith(".weights.h5") or (not saving and path.endswith(".h5")):
        return path, "h5"
    raise ValueError(
        "The filename must end in `.weights.h5` (Keras 3 layout) or `.npz`. "
        f"Received: filepath={path}"
    )


def save_weights(model, filepath):
    path, fmt = _format(filepath, saving=True)
    if not model.built:
        raise ValueError(
            "You are saving a model that has not yet been built. "
            "Try building the model first by calling it on some data or "
            "by using `build()`."
        )
    entries = layer_paths(model)
    if fmt == "npz":
        arrays = {}
        for gpath, layer in entries:
            for i, w in enumerate(layer.weights):
                arrays[f"{gpath}/vars/{i}"] = w
        with open(path, "wb") as f:
            np.savez(f, **arrays)
        return
    h5py = _import_h5py()
    with h5py.File(path, "w") as f:
        f.create_group("vars").attrs["name"] = model.name
        for gpath, layer in entries:
            group = f.create_group(gpath).create_group("vars")
            group.attrs["name"] = layer.name
            for i, w in enumerate(layer.weights):
                group[str(i)] = w


def _read_h5(path):
    h5py = _import_h5py()
    groups = {}
    with h5py.File(path, "r") as f:
        if "layer_names" in f.attrs or "model_weights" in f:
            raise ValueError(
                f"{path} is a legacy Keras 2 HDF5 file; densekit reads the Keras 3 "
                "`.weights.h5` layout (save it again with Keras 3 `save_weights`)."
            )
        layers = f.get("layers")
        if layers is None:
            return groups
        for key in layers:
            item = layers[key]
            if not isinstance(item, h5py.Group):
                continue
            vars_ = item.get("vars")
            if vars_ is None or not isinstance(vars_, h5py.Group):
                continue
            groups[f"layers/{key}"] = {
                name: np.asarray(vars_[name])
                for name in vars_
                if isinstance(vars_[name], h5py.Dataset)
            }
    return groups


def _read_npz(path):
    groups = {}
    with np.load(path, allow_pickle=False) as z:
        for name in z.files:
            parts = name.split("/")
            if len(parts) != 4 or parts[0] != "layers" or parts[2] != "vars":
                raise ValueError(
                    f"{path} is not a densekit weights file: unexpected array '{name}' "
                    "(expected names like 'layers/dense/vars/0')."
                )
            groups.setdefault(f"layers/{parts[1]}", {})[parts[3]] = z[name]
    return groups


def load_weights(model, filepath):
    path, fmt = _format(filepath, saving=False)
    if not model.built:
        raise ValueError(
            "You are loading weights into a model that has not yet been built. "
            "Try building the model first by calling it on some data or "
            "by using `build()`."
        )
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such weights file: {path}")
    groups = _read_h5(path) if fmt == "h5" else _read_npz(path)

    def mismatch(detail):
        return ValueError(
            f"The weights file {path} does not match the architecture of model "
            f"'{model.name}': {detail}. The model's weights were left unchanged."
        )

    # Validate everything first, so that a bad file never half-loads.
    plan = []
    expected_paths = set()
    for gpath, layer in layer_paths(model):
        expected_paths.add(gpath)
        stored = groups.get(gpath, {})
        weights = layer.weights
        if len(stored) != len(weights) or any(str(i) not in stored for i in range(len(weights))):
            raise mismatch(
                f"layer '{layer.name}' ({type(layer).__name__}, group '{gpath}') expects "
                f"{len(weights)} arrays of shapes {[w.shape for w in weights]}, the file "
                f"holds {len(stored)} ({sorted(stored)})"
            )
        values = []
        for i, w in enumerate(weights):
            value = stored[str(i)]
            if value.shape != w.shape:
                raise mismatch(
                    f"weight {i} of layer '{layer.name}' (group '{gpath}') has shape "
                    f"{value.shape} in the file, the model expects {w.shape}"
                )
            if value.dtype.kind not in "biuf":
                raise mismatch(
                    f"weight {i} of layer '{layer.name}' has dtype {value.dtype} in the file"
                )
            values.append(value)
        plan.append((layer, values))
    extra = sorted(g for g, arrays in groups.items() if arrays and g not in expected_paths)
    if extra:
        raise mismatch(f"the file holds weights for layers the model does not have: {extra}")
    for layer, values in plan:
        layer._assign_weights(values)
