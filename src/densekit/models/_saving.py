"""Whole-model files: Keras 3's `.keras` archive, written and read.

Keras 3.15 (``keras/src/saving/saving_lib.py``: ``save_model``,
``_save_model_to_fileobj``, ``H5IOStore``) writes a zip archive of three members,
uncompressed, in this order::

    metadata.json      {"keras_version": "3.15.1", "date_saved": "2026-12-01@22:12:42"}
    config.json        {"module": "keras", "class_name": "Sequential", "config": {...},
                        "registered_name": null, "build_config": {"input_shape": [...]},
                        "compile_config": {...} or {}}
    model.weights.h5   the `.weights.h5` layout (see ``_weights_io``), plus, for a
                       compiled model, /optimizer/vars (attrs {"name": <optimizer
                       name>}) holding the optimizer's variables as datasets
                       0..N in ``optimizer.variables`` order: iterations, the
                       learning rate (a float one only), then each variable's slots.

densekit writes the same archive. Every nested object record of the config
(layers, initializers, regularizers, constraints, optimizers, schedules, losses,
metrics) names its Keras module ('keras.layers', 'keras.initializers', ...;
densekit's own serializers say 'densekit.layers', ...), so Keras finds each
class; reading accepts both. metadata.json also carries a "densekit_version"
key, which Keras ignores.

Reading treats the archive as untrusted: only the three expected member names
are accepted (anything else, such as a path like '../x', is refused), sizes
declared by the zip directory are checked before any member is read (a small
JSON limit, and the weights file against what the model needs), and the
weights file is read with ``_weights_io``'s checks (no external storage, links
or virtual datasets; every declared shape checked before any data are read).
Any failure raises one ValueError naming the file and what is wrong.

Compile state: a model is saved as compiled when it has a
``get_compile_config()`` method that returns a non-empty dict (Keras'
``compile_config``: optimizer, loss, loss_weights, metrics, weighted_metrics,
run_eagerly, steps_per_execution, jit_compile, with objects serialized) and
its optimizer's state is saved when ``model.optimizer`` is a densekit
optimizer (``variables``, ``name``, ``built``, ``save_own_variables``,
``load_own_variables``). Loading with ``compile=True`` calls
``model.compile_from_config(config)`` (which must compile the model and build
the optimizer on ``model.trainable_weights``, as Keras' does), then loads the
stored variables into ``model.optimizer``.
"""

import datetime
import io as _pyio
import json
import os
import shutil
import tempfile
import warnings
import zipfile

import numpy as np

from densekit._validation import check_path
from densekit.models import _weights_io

__all__ = ["KERAS_VERSION", "load_model", "save_model"]

#: The Keras release whose `.keras` format densekit writes (metadata.json's keras_version).
KERAS_VERSION = "3.15.1"

_METADATA = "metadata.json"
_CONFIG = "config.json"
_WEIGHTS = "model.weights.h5"
_MEMBERS = (_METADATA, _CONFIG, _WEIGHTS)
# A Sequential config of a few layers is a few KiB; nothing legitimate comes near.
_JSON_LIMIT = 16 * 2**20
# The weights member may hold HDF5 metadata and groups beyond the arrays the model
# needs, but not more than this (a hostile directory entry cannot make us copy GBs).
_H5_SLACK = 16 * 2**20
# Members larger than this are copied to a temporary file rather than to memory.
_IN_MEMORY = 64 * 2**20
_COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)


# ------------------------------------------------------------------- config
def _to_keras(obj):
    """`obj` with every densekit module name of an object record as Keras names it."""
    if isinstance(obj, dict):
        out = {k: _to_keras(v) for k, v in obj.items()}
        module = out.get("module")
        if "class_name" in out and isinstance(module, str) and (
                module == "densekit" or module.startswith("densekit.")):
            out["module"] = "keras" if module in ("densekit", "densekit.models") else (
                "keras" + module[len("densekit"):])
        return out
    if isinstance(obj, (list, tuple)):
        return [_to_keras(v) for v in obj]
    return obj


def _compile_config(model):
    """The model's Keras compile_config ({} when it is not compiled)."""
    get = getattr(model, "get_compile_config", None)
    config = get() if callable(get) else None
    if not config:
        return {}
    if not isinstance(config, dict):
        raise TypeError(
            "`model.get_compile_config()` must return a dict. "
            f"Received: {type(config).__name__}"
        )
    return config


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def model_record(model):
    """config.json's dict for `model`, as Keras 3 writes it."""
    record = {
        "module": "keras",
        "class_name": "Sequential",
        "config": _to_keras(model.get_config()),
        "registered_name": None,
    }
    if model.built:
        record["build_config"] = {"input_shape": list(model._layers[0].batch_shape)}
    record["compile_config"] = _to_keras(_compile_config(model))
    return record


def _metadata():
    from densekit import __version__

    return {
        "keras_version": KERAS_VERSION,
        "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
        "densekit_version": __version__,
    }


# ------------------------------------------------------------------- saving
def _optimizer_state(model):
    """(name, arrays) of the model's optimizer state, or None without an optimizer.

    An optimizer not built yet (compiled, never fitted) is saved as it will be
    once built: the state of a fresh copy built on the model's trainable weights,
    so that Keras (which builds the optimizer when it loads a compiled model)
    finds the number of variables it expects.
    """
    opt = getattr(model, "optimizer", None)
    if opt is None:
        return None
    for attr in ("variables", "name", "save_own_variables"):
        if not hasattr(opt, attr):
            raise TypeError(
                f"`model.optimizer` must be a densekit optimizer (it has no `{attr}`). "
                f"Received: {opt!r}"
            )
    if not getattr(opt, "built", True) and model.built and model.trainable_weights:
        clone = type(opt).from_config(opt.get_config())
        clone.build([np.empty_like(w) for w in model.trainable_weights])
        opt = clone
    store = {}
    opt.save_own_variables(store)
    return opt.name, [np.asarray(store[str(i)]) for i in range(len(store))]


def _check_save_path(filepath):
    if isinstance(filepath, _pyio.IOBase):
        raise TypeError(
            "densekit saves `.keras` archives to a path (written to a temporary "
            "file and renamed, so a failed save leaves no partial file). "
            f"Received: filepath={filepath!r}"
        )
    path = check_path(filepath, "filepath")
    if not path.endswith(".keras"):
        hint = ""
        if path.endswith(".weights.h5"):
            hint = " To save only the weights, use `model.save_weights(filepath)`."
        raise ValueError(
            "Invalid filepath extension for saving. Please add a `.keras` extension "
            f"for the native Keras format.{hint} Received: filepath={path}"
        )
    return path


def save_model(model, filepath, overwrite=True, zipped=None, **kwargs):
    """Write `model` to `filepath` as a Keras 3 `.keras` archive (see the module docstring)."""
    kwargs.pop("include_optimizer", None)  # Keras ignores it for .keras files too
    if kwargs:
        raise ValueError(
            f"The following argument(s) are not supported: {list(kwargs.keys())}"
        )
    if zipped is not None and not zipped:
        raise ValueError(
            "densekit writes only the zipped `.keras` archive. "
            f"Received: zipped={zipped!r}"
        )
    path = _check_save_path(filepath)
    if not model.built:
        warnings.warn(
            "You are saving a model that has not yet been built. "
            "It might not contain any weights yet. "
            "Consider building the model first by calling it "
            "on some data.",
            stacklevel=3,
        )
    config_json = json.dumps(model_record(model), default=_json_default).encode()
    metadata_json = json.dumps(_metadata()).encode()
    optimizer = _optimizer_state(model)
    extra = [("optimizer", optimizer[0], optimizer[1])] if optimizer is not None else []
    h5py = _weights_io._import_h5py()
    from densekit import io

    nbytes = sum(w.nbytes for w in model.weights)
    with io._replacing(path, overwrite=bool(overwrite)) as (zip_tmp, scratch):
        h5_tmp = scratch()
        _weights_io._write_h5(h5py, io, h5_tmp, model, _weights_io.layer_paths(model),
                              nbytes, extra)
        with open(zip_tmp, "wb") as f:
            with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as zf:
                zf.writestr(_METADATA, metadata_json)
                zf.writestr(_CONFIG, config_json)
                zf.write(h5_tmp, _WEIGHTS)
            f.flush()
            os.fsync(f.fileno())


# ------------------------------------------------------------------ loading
def _refuse(label, what):
    return ValueError(f"Refusing to load {label}: {what}.")


def _members(archive, label):
    """{name: ZipInfo} of the archive, refusing anything a densekit model file cannot hold."""
    infos = {}
    for info in archive.infolist():
        name = info.filename
        parts = name.replace("\\", "/").split("/")
        if name.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
            raise _refuse(label, f"the archive member '{name}' has a path that points outside "
                                 "the archive (path traversal)")
        if name == "model.weights.npz":
            raise _refuse(label, "its weights are in model.weights.npz; densekit reads the "
                                 "model.weights.h5 that Keras writes by default")
        if name not in _MEMBERS:
            raise _refuse(label, f"unexpected archive member '{name}' (a `.keras` file of a "
                                 f"densekit model holds only {', '.join(_MEMBERS)})")
        if name in infos:
            raise _refuse(label, f"the archive holds '{name}' twice")
        if info.flag_bits & 0x1:
            raise _refuse(label, f"the archive member '{name}' is encrypted")
        if info.compress_type not in _COMPRESSIONS:
            raise _refuse(label, f"the archive member '{name}' uses an unsupported "
                                 f"compression (method {info.compress_type})")
        if info.file_size > 100 * info.compress_size + 2**20:
            raise _refuse(label, f"the archive member '{name}' declares {info.file_size} bytes "
                                 f"but only {info.compress_size} are stored (a potential "
                                 "decompression bomb)")
        infos[name] = info
    if _CONFIG not in infos:
        raise _refuse(label, "the archive has no config.json (it is not a `.keras` model file)")
    if _WEIGHTS not in infos:
        raise _refuse(label, "the archive has no model.weights.h5")
    return infos


def _read_json(archive, info, label):
    if info.file_size > _JSON_LIMIT:
        raise _refuse(label, f"{info.filename} declares {info.file_size} bytes (more than "
                             f"the {_JSON_LIMIT} a model's JSON can need)")
    try:
        with archive.open(info) as member:
            data = member.read(_JSON_LIMIT + 1)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
        raise _refuse(label, f"{info.filename} cannot be read ({exc})") from None
    try:
        value = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _refuse(label, f"{info.filename} is not valid JSON ({exc})") from None
    except RecursionError:
        raise _refuse(label, f"{info.filename} is nested too deeply") from None
    if not isinstance(value, dict):
        raise _refuse(label, f"{info.filename} must hold a JSON object, not "
                             f"{type(value).__name__}")
    return value, data


def _copy_member(archive, info, label):
    """The member's bytes in a seekable file object (memory or a temporary file)."""
    out = _pyio.BytesIO() if info.file_size <= _IN_MEMORY else tempfile.TemporaryFile()
    try:
        with archive.open(info) as member:
            shutil.copyfileobj(member, out, 2**20)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
        out.close()
        raise _refuse(label, f"{info.filename} cannot be read ({exc})") from None
    out.seek(0)
    return out


def _int_shape(value):
    """`value` as a list of positive ints (None if it is not one)."""
    if not isinstance(value, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in value):
        return None
    return value


def _declared_weight_bytes(record):
    """A lower bound on the bytes of the weights the config's Dense layers would
    allocate when built (0 when the shapes cannot be followed): computed from the
    JSON alone, before anything is built."""
    config = record.get("config")
    layers = config.get("layers") if isinstance(config, dict) else None
    if not isinstance(layers, list):
        return 0
    shape = None
    total = 0
    for layer in layers:
        if not isinstance(layer, dict) or not isinstance(layer.get("config"), dict):
            return total
        cfg = layer["config"]
        build = layer.get("build_config")
        declared = None
        if isinstance(build, dict) and isinstance(build.get("input_shape"), list):
            declared = build["input_shape"]
        elif layer.get("class_name") == "InputLayer":
            declared = cfg.get("batch_shape")
        if declared is not None:
            shape = _int_shape(list(declared)[1:])
        if shape is None:
            return total
        itemsize = 8 if cfg.get("dtype") == "float64" else 4
        name = layer.get("class_name")
        units = cfg.get("units")
        if isinstance(units, int) and not isinstance(units, bool) and units > 0:
            total += (shape[-1] * units + units) * itemsize if shape else 0
            shape = shape[:-1] + [units]
        elif name == "Flatten":
            size = 1
            for d in shape:
                size *= d
            shape = [size]
        elif name == "Reshape":
            target = cfg.get("target_shape")
            shape = _int_shape(list(target)) if isinstance(target, (list, tuple)) else None
    return total


def _model_from_record(record, raw, custom_objects, label, weights_info):
    from densekit.models.sequential import model_from_json

    if record.get("class_name") != "Sequential":
        raise _refuse(label, "densekit can only rebuild Sequential models; config.json "
                             f"describes class_name={record.get('class_name')!r}")
    # Keras stores weights uncompressed: a config whose layers would allocate far
    # more than the weights member holds is refused before anything is built.
    declared = _declared_weight_bytes(record)
    if declared > weights_info.file_size + _H5_SLACK:
        raise _refuse(label, f"config.json describes layers with {declared} bytes of weights "
                             f"but model.weights.h5 holds only {weights_info.file_size} bytes")
    try:
        return model_from_json(raw, custom_objects=custom_objects)
    except ValueError as exc:
        raise ValueError(f"Cannot load {label}: config.json is invalid: {exc}") from None


def _compile(model, compile_config, label):
    """Compile the loaded model through its compile_from_config (False if it cannot)."""
    if not isinstance(compile_config, dict):
        raise _refuse(label, "config.json's compile_config must be an object")
    compile_from_config = getattr(model, "compile_from_config", None)
    if compile_from_config is None:
        warnings.warn(
            f"{label} holds a compiled model, but `compile()` was not called as part of "
            "model loading because this densekit Sequential has no `compile_from_config`; "
            "its optimizer state was not loaded. Pass `compile=False` to load only the "
            "architecture and weights.",
            stacklevel=3,
        )
        return False
    try:
        compile_from_config(compile_config)
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(
            f"Cannot load {label}: its compile_config cannot be compiled "
            f"({type(exc).__name__}: {exc}). Pass `compile=False` to skip it."
        ) from None
    return True


def _optimizer_plan(h5py, f, opt, label):
    """The stored optimizer arrays, checked against `opt.variables` (None: let
    ``load_own_variables`` warn about a count mismatch, as Keras does)."""
    stored = _weights_io._h5_vars(h5py, label, f, "optimizer") or {}
    variables = list(opt.variables)
    if len(stored) != len(variables) or any(str(i) not in stored for i in range(len(stored))):
        return None, len(stored)
    names = list(getattr(opt, "variable_names", [f"variable {i}" for i in range(len(variables))]))
    entries = []
    for i, v in enumerate(variables):
        entry = stored[str(i)]
        if entry.shape != v.shape or entry.dtype.kind not in "biuf":
            raise ValueError(
                f"The optimizer state in {label} does not match optimizer '{opt.name}': "
                f"variable {i} ({names[i]}) is stored with shape {entry.shape} and dtype "
                f"{entry.dtype}, the optimizer has shape {v.shape} and dtype {v.dtype}."
            )
        entries.append(entry)
    return entries, len(stored)


def _load_state(model, archive, info, label, opt):
    expected = sum(w.nbytes for w in model.weights)
    if opt is not None:
        expected += sum(np.asarray(v).nbytes for v in opt.variables) + sum(
            w.nbytes for w in model.trainable_weights) * 4  # slots of an unbuilt optimizer
    if info.file_size > 2 * expected + _H5_SLACK:
        raise _refuse(label, f"model.weights.h5 declares {info.file_size} bytes, far more than "
                             f"this model's weights and optimizer state ({expected} bytes) need")
    h5py = _weights_io._import_h5py()
    source = _copy_member(archive, info, label)
    try:
        try:
            f = h5py.File(source, "r")
        except OSError as exc:
            raise _refuse(label, f"model.weights.h5 is not an HDF5 file ({exc})") from None
        with f:
            groups = _weights_io._h5_layer_groups(h5py, label, f)
            loaded = _weights_io.read_checked(model, groups, label)
            opt_values = None
            count = 0
            if opt is not None:
                entries, count = _optimizer_plan(h5py, f, opt, label)
                if entries is not None:
                    opt_values = [np.asarray(e.read(), dtype=v.dtype)
                                  for e, v in zip(entries, opt.variables)]
    finally:
        source.close()
    for layer, values in loaded:
        layer._assign_weights(values)
    if opt is not None:
        if opt_values is None:
            # Keras' behaviour: warn that the counts differ and keep the fresh state.
            opt.load_own_variables({str(i): None for i in range(count)})
        else:
            opt.load_own_variables({str(i): a for i, a in enumerate(opt_values)})


def _open_source(filepath):
    """(zip source, label) for a path ending in .keras or a binary file object."""
    if isinstance(filepath, _pyio.IOBase):
        return filepath, getattr(filepath, "name", "the file object")
    path = check_path(filepath, "filepath")
    if not path.endswith(".keras"):
        raise ValueError(
            "Invalid filename: expected a `.keras` extension. "
            f"Received: filepath={path}"
        )
    if not os.path.isfile(path):
        raise ValueError(
            f"File not found: filepath={path}. "
            "Please ensure the file is an accessible `.keras` zip file."
        )
    return path, path


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Read a `.keras` archive written by densekit or Keras 3 (see the module docstring)."""
    if not isinstance(safe_mode, bool):
        raise ValueError(f"Argument `safe_mode` must be a bool. Received: safe_mode={safe_mode!r}")
    if custom_objects is not None and not isinstance(custom_objects, dict):
        raise ValueError(
            "Argument `custom_objects` must be a dict of names to classes. "
            f"Received: custom_objects={custom_objects!r}"
        )
    source, label = _open_source(filepath)
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ValueError(f"{label} is not a `.keras` zip archive ({exc}).") from None
    with archive:
        infos = _members(archive, label)
        record, raw = _read_json(archive, infos[_CONFIG], label)
        if _METADATA in infos:
            _read_json(archive, infos[_METADATA], label)  # only checked: nothing depends on it
        model = _model_from_record(record, raw, custom_objects, label, infos[_WEIGHTS])
        compile_config = record.get("compile_config")
        opt = None
        if compile and compile_config:
            if _compile(model, compile_config, label):
                opt = getattr(model, "optimizer", None)
        _load_state(model, archive, infos[_WEIGHTS], label, opt)
    return model
