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

Saving is atomic: the file is written under a temporary name beside the target
and renamed onto it only when complete, so a failed save (a full disk) leaves
the previous file intact and raises OSError. Loading treats the file as
untrusted: every declared shape and dtype is checked against the model before
any data are read (a small compressed file cannot make densekit allocate a
huge array), and HDF5 indirections that would read other files (external
storage, external links, soft links, virtual datasets) are refused.
"""

import contextlib
import errno
import os
import zipfile

import numpy as np

from densekit._validation import check_path
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
    path = check_path(filepath, "filepath")
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
    if fmt == "h5":
        h5py = _import_h5py()
    from densekit import io

    nbytes = sum(w.nbytes for w in model.weights)
    with io._replacing(path, overwrite=True) as (tmp_path, _):
        if fmt == "npz":
            arrays = {}
            for gpath, layer in entries:
                for i, w in enumerate(layer.weights):
                    arrays[f"{gpath}/vars/{i}"] = w
            with open(tmp_path, "wb") as f:
                np.savez(f, **arrays)
                f.flush()
                os.fsync(f.fileno())
        else:
            _write_h5(h5py, io, tmp_path, model, entries, nbytes)


def _write_h5(h5py, io, tmp_path, model, entries, nbytes, extra_groups=()):
    """Write the Keras layout to `tmp_path`; `extra_groups` holds more
    ``(group path, name attribute, arrays)`` to store as ``<path>/vars/0..N``
    (a `.keras` archive's ``optimizer``)."""
    f = h5py.File(tmp_path, "w")
    try:
        # Reserve the blocks first (as densekit.io does): no write, and no flush at
        # close (which crashes h5py when it fails), can then meet a full disk.
        nbytes += sum(a.nbytes for _, _, arrays in extra_groups for a in arrays)
        reserve = nbytes + io._H5_METADATA_SLACK + 4096 * (
            2 * (len(entries) + len(extra_groups)) + 1
            + sum(len(arrays) for _, _, arrays in extra_groups))
        fd = os.open(tmp_path, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            try:
                io._fallocate_keep_size(fd, reserve)
            except OSError as exc:
                if exc.errno == errno.ENOSPC:
                    io._release_past_eof(fd)
                    raise OSError(
                        errno.ENOSPC,
                        f"No space left on device saving the weights to {tmp_path!r} "
                        f"(about {reserve} bytes needed); the previous file is untouched",
                    ) from None
                if exc.errno not in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                    raise
        finally:
            os.close(fd)
        f.create_group("vars").attrs["name"] = model.name
        for gpath, layer in entries:
            group = f.create_group(gpath).create_group("vars")
            group.attrs["name"] = layer.name
            for i, w in enumerate(layer.weights):
                group[str(i)] = w
        for gpath, name, arrays in extra_groups:
            group = f.create_group(gpath).create_group("vars")
            group.attrs["name"] = name
            for i, a in enumerate(arrays):
                group[str(i)] = a
    finally:
        try:
            f.close()
        except (RuntimeError, OSError) as exc:
            raise io._h5_error(exc) from exc
    fd = os.open(tmp_path, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        io._release_past_eof(fd)
        os.fsync(fd)
    finally:
        os.close(fd)


# ------------------------------------------------------------------------ reading
class _Entry:
    """One stored array: its declared shape and dtype, read only on demand."""

    __slots__ = ("shape", "dtype", "read")

    def __init__(self, shape, dtype, read):
        self.shape, self.dtype, self.read = tuple(shape), dtype, read


def _refuse(path, where, what):
    return ValueError(
        f"Refusing to load {path}: '{where}' {what}. densekit reads only arrays stored "
        "inside the weights file itself (as Keras writes them)."
    )


def _h5_child(h5py, path, group, name, where):
    """group[name], refusing soft and external links (they can point anywhere)."""
    link = group.get(name, getlink=True)
    if isinstance(link, h5py.ExternalLink):
        raise _refuse(path, where, f"is an external link to {link.filename}:{link.path}")
    if isinstance(link, h5py.SoftLink):
        raise _refuse(path, where, f"is a soft link to {link.path}")
    return group[name]


def _h5_dataset_entry(h5py, path, ds, where):
    if ds.is_virtual:
        raise _refuse(path, where, "is a virtual dataset (it reads other files)")
    dcpl = ds.id.get_create_plist()
    if dcpl.get_external_count() > 0:
        raise _refuse(path, where, "has external storage (its bytes live in another file)")
    return _Entry(ds.shape, ds.dtype, lambda: ds[()])


def _h5_vars(h5py, path, f, gpath):
    """{name: _Entry} of the datasets in ``<gpath>/vars`` (None if there is no such group)."""
    node = f
    where = ""
    for part in gpath.split("/") + ["vars"]:
        where += "/" + part
        if not isinstance(node, h5py.Group) or part not in node:
            return None
        node = _h5_child(h5py, path, node, part, where)
    if not isinstance(node, h5py.Group):
        return None
    stored = {}
    for name in node:
        dwhere = f"{where}/{name}"
        obj = _h5_child(h5py, path, node, name, dwhere)
        if isinstance(obj, h5py.Dataset):
            stored[name] = _h5_dataset_entry(h5py, path, obj, dwhere)
    return stored


def _h5_layer_groups(h5py, path, f):
    """{'layers/<key>': {name: _Entry}} of an open Keras 3 weights file."""
    if "layer_names" in f.attrs or "model_weights" in f:
        raise ValueError(
            f"{path} is a legacy Keras 2 HDF5 file; densekit reads the Keras 3 "
            "`.weights.h5` layout (save it again with Keras 3 `save_weights`)."
        )
    groups = {}
    if "layers" in f:
        layers = _h5_child(h5py, path, f, "layers", "/layers")
        if isinstance(layers, h5py.Group):
            for key in layers:
                _h5_child(h5py, path, layers, key, f"/layers/{key}")
                stored = _h5_vars(h5py, path, f, f"layers/{key}")
                if stored is not None:
                    groups[f"layers/{key}"] = stored
    return groups


@contextlib.contextmanager
def _h5_entries(path):
    h5py = _import_h5py()
    with h5py.File(path, "r") as f:
        yield _h5_layer_groups(h5py, path, f)


def _npy_header(member):
    version = np.lib.format.read_magic(member)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(member)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(member)
    raise ValueError(f"unsupported .npy format version {version}")


@contextlib.contextmanager
def _npz_entries(path):
    groups = {}
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{path} is not a valid .npz file ({exc}).") from None
    with archive:
        for info in archive.infolist():
            name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            parts = name.split("/")
            if (not info.filename.endswith(".npy") or len(parts) != 4
                    or parts[0] != "layers" or parts[2] != "vars"):
                raise ValueError(
                    f"{path} is not a densekit weights file: unexpected array '{name}' "
                    "(expected names like 'layers/dense/vars/0')."
                )
            # Only the header is decompressed here: the data are read once every
            # declared shape and dtype has been checked against the model.
            try:
                with archive.open(info) as member:
                    shape, _, dtype = _npy_header(member)
            except (ValueError, OSError, zipfile.BadZipFile) as exc:
                raise ValueError(f"{path}: array '{name}' has a bad .npy header ({exc}).") from None

            def read(info=info):
                with archive.open(info) as member:
                    return np.lib.format.read_array(member, allow_pickle=False)

            groups.setdefault(f"layers/{parts[1]}", {})[parts[3]] = _Entry(shape, dtype, read)
        yield groups


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
    opener = _h5_entries if fmt == "h5" else _npz_entries
    with opener(path) as groups:
        loaded = read_checked(model, groups, path)
    for layer, values in loaded:
        layer._assign_weights(values)


def read_checked(model, groups, path):
    """[(layer, arrays)] read from `groups` ({'layers/<key>': {name: _Entry}}) once every
    declared shape and dtype matched the model; ValueError (nothing read) otherwise."""

    def mismatch(detail):
        return ValueError(
            f"The weights file {path} does not match the architecture of model "
            f"'{model.name}': {detail}. The model's weights were left unchanged."
        )

    # Validate every declared shape and dtype first, reading no data, so that a
    # bad file never half-loads and a hostile one never makes us allocate.
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
        entries = []
        for i, w in enumerate(weights):
            entry = stored[str(i)]
            if entry.shape != w.shape:
                raise mismatch(
                    f"weight {i} of layer '{layer.name}' (group '{gpath}') has shape "
                    f"{entry.shape} in the file, the model expects {w.shape}"
                )
            if entry.dtype.kind not in "biuf":
                raise mismatch(
                    f"weight {i} of layer '{layer.name}' has dtype {entry.dtype} in the file"
                )
            entries.append(entry)
        plan.append((layer, entries))
    extra = sorted(g for g, arrays in groups.items() if arrays and g not in expected_paths)
    if extra:
        raise mismatch(f"the file holds weights for layers the model does not have: {extra}")
    loaded = []
    for layer, entries in plan:
        values = []
        for entry in entries:
            value = np.asarray(entry.read())
            if value.shape != entry.shape:  # pragma: no cover - a lying reader
                raise mismatch(f"an array of layer '{layer.name}' changed shape on reading")
            values.append(value)
        loaded.append((layer, values))
    return loaded
