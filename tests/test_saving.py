"""Whole-model `.keras` files: Sequential.save and densekit.models.load_model.

The Keras-written archives in tests/data (keras_uncompiled/adam/sgd_schedule.keras,
with keras_files_ref.npz) come from tests/data/make_keras_files.py (Keras 3.15.1,
jax backend); the live round trips with Keras run under the deselected `keras`
marker.

The compile-state interface (until the trainer's compile lands, the tests give
Sequential a stand-in): ``model.get_compile_config()`` returns Keras'
compile_config dict (empty when not compiled), ``model.compile_from_config(config)``
compiles and builds ``model.optimizer`` on ``model.trainable_weights``, and
``model.optimizer`` is a densekit optimizer.
"""

import importlib.util
import io
import json
import os
import struct
import warnings
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from densekit import optimizers
from densekit.layers import Activation, Dense, Input
from densekit.models import Sequential, _saving, _weights_io, load_model

DATA = Path(__file__).parent / "data"
RNG = np.random.default_rng(7)


def _generator():
    spec = importlib.util.spec_from_file_location("make_keras_files", DATA / "make_keras_files.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def mlp(dtype=None, name=None):
    model = Sequential([
        Input(shape=(4,), dtype=dtype),
        Dense(8, activation="relu", kernel_regularizer="l2", kernel_constraint="max_norm",
              dtype=dtype),
        Dense(3, dtype=dtype),
        Activation("softmax", dtype=dtype),
    ], name=name)
    model.set_weights([RNG.standard_normal(w.shape) * 0.5 for w in model.weights])
    return model


def compile_config_of(opt, loss="mse"):
    return {
        "optimizer": optimizers.serialize(opt), "loss": loss, "loss_weights": None,
        "metrics": None, "weighted_metrics": None, "run_eagerly": False,
        "steps_per_execution": 1, "jit_compile": False,
    }


@pytest.fixture
def compilable(monkeypatch):
    """Sequential with the compile-state interface the trainer provides."""

    def get_compile_config(self):
        return getattr(self, "_test_compile_config", {})

    def compile_from_config(self, config):
        self.optimizer = optimizers.deserialize(config["optimizer"])
        self.optimizer.build(self.trainable_weights)
        self._test_compile_config = config

    monkeypatch.setattr(Sequential, "get_compile_config", get_compile_config, raising=False)
    monkeypatch.setattr(Sequential, "compile_from_config", compile_from_config, raising=False)


def trained(model, opt, steps=3):
    """Attach `opt` built directly on the model's weights and take a few steps."""
    opt.build(model.trainable_weights)
    for _ in range(steps):
        opt.apply([RNG.standard_normal(w.shape).astype(w.dtype) for w in model.trainable_weights],
                  model.trainable_weights)
    model.optimizer = opt
    model._test_compile_config = compile_config_of(opt)
    return model


# ------------------------------------------------------------------ round trip
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_roundtrip_densekit(tmp_path, dtype):
    model = mlp(dtype)
    model.save(tmp_path / "m.keras")
    back = load_model(tmp_path / "m.keras")
    assert back.get_config() == model.get_config()
    for a, b in zip(back.get_weights(), model.get_weights()):
        assert a.dtype == b.dtype
        assert_array_equal(a, b)
    x = RNG.standard_normal((9, 4)).astype(dtype)
    assert_array_equal(back.predict(x, verbose=0), model.predict(x, verbose=0))
    # str paths and binary file objects load too
    assert load_model(str(tmp_path / "m.keras")).count_params() == model.count_params()
    with open(tmp_path / "m.keras", "rb") as f:
        assert load_model(f).get_config() == model.get_config()


def test_archive_is_keras_layout(tmp_path):
    model = mlp(name="layout")
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as zf:
        infos = zf.infolist()
        assert [i.filename for i in infos] == ["metadata.json", "config.json", "model.weights.h5"]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in infos)
        meta = json.loads(zf.read("metadata.json"))
        config = json.loads(zf.read("config.json"))
        h5 = zf.read("model.weights.h5")
    assert meta["keras_version"] == _saving.KERAS_VERSION
    assert len(meta["date_saved"]) == len("2026-12-01@22:12:42") and meta["date_saved"][10] == "@"
    assert "densekit_version" in meta
    assert (config["module"], config["class_name"], config["registered_name"]) == (
        "keras", "Sequential", None)
    assert config["build_config"] == {"input_shape": [None, 4]}
    assert config["compile_config"] == {}  # as Keras writes an uncompiled model
    layers = config["config"]["layers"]
    assert [layer["module"] for layer in layers] == ["keras.layers"] * 4
    dense = layers[1]
    assert dense["build_config"] == {"input_shape": [None, 4]}
    for key, module in [("kernel_initializer", "keras.initializers"),
                        ("bias_initializer", "keras.initializers"),
                        ("kernel_regularizer", "keras.regularizers"),
                        ("kernel_constraint", "keras.constraints")]:
        assert dense["config"][key]["module"] == module
        assert dense["config"][key]["registered_name"] is None
    assert "densekit" not in json.dumps(config)
    with h5py.File(io.BytesIO(h5), "r") as f:
        assert f["vars"].attrs["name"] == "layout"
        assert sorted(f["layers"]) == ["activation", "dense", "dense_1"]
        assert f["layers/dense/vars"].attrs["name"] == model.layers[0].name
        assert_array_equal(f["layers/dense/vars/0"][()], model.layers[0].kernel)
        assert len(f["layers/activation/vars"]) == 0
        assert "optimizer" not in f


def test_unbuilt_model_warns_as_keras_and_roundtrips(tmp_path):
    model = Sequential([Dense(3), Dense(2)])
    with pytest.warns(UserWarning, match="has not yet been built"):
        model.save(tmp_path / "u.keras")
    back = load_model(tmp_path / "u.keras")
    assert not back.built
    assert [layer.units for layer in back.layers] == [3, 2]


def test_reads_keras_modules_and_densekit_modules(tmp_path):
    # A densekit-module config (as `to_json` writes) loads as well as a Keras one.
    model = mlp()
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as zf:
        parts = {i.filename: zf.read(i) for i in zf.infolist()}
    record = json.loads(model.to_json())
    parts["config.json"] = json.dumps(record).encode()
    write_archive(tmp_path / "d.keras", parts)
    back = load_model(tmp_path / "d.keras")
    assert back.get_config() == model.get_config()


# ---------------------------------------------------------- Keras-written files
REF = np.load(DATA / "keras_files_ref.npz")


@pytest.mark.parametrize("case", ["uncompiled", "adam", "sgd_schedule"])
def test_keras_written_files_load(case):
    model = load_model(DATA / f"keras_{case}.keras", compile=False)
    n = len(model.weights)
    for i, w in enumerate(model.get_weights()):
        assert w.dtype == np.float32
        assert_array_equal(w, REF[f"{case}/w{i}"])
    assert f"{case}/w{n}" not in REF
    assert_allclose(model.predict(REF[f"{case}/x"], verbose=0), REF[f"{case}/predict"],
                    rtol=1e-5, atol=1e-6)
    assert not hasattr(model, "optimizer")


def densekit_has(*names):
    from densekit import layers

    return all(name in layers.ALL_OBJECTS_DICT for name in names)


WEIGHTLESS = ("Flatten", "Dropout", "Reshape")


def test_keras_file_with_flatten_dropout_reshape():
    # Loads once densekit has these layers (issue 12); until then, a clear error.
    path = DATA / "keras_reshape_dropout.keras"
    if not densekit_has(*WEIGHTLESS):
        with pytest.raises(ValueError, match="Unknown layer: '(Flatten|Dropout|Reshape)'"):
            load_model(path)
        return
    model = load_model(path)
    for i, w in enumerate(model.get_weights()):
        assert_array_equal(w, REF[f"reshape_dropout/w{i}"])
    assert_allclose(model.predict(REF["reshape_dropout/x"], verbose=0),
                    REF["reshape_dropout/predict"], rtol=1e-5, atol=1e-6)


def test_keras_uncompiled_file_keeps_regularizer_and_constraint():
    model = load_model(DATA / "keras_uncompiled.keras")
    dense = model.layers[0]
    assert type(dense.kernel_regularizer).__name__ == "L2"
    assert type(dense.kernel_constraint).__name__ == "MaxNorm"
    assert model.name == "ref_uncompiled"


@pytest.mark.parametrize("case, cls, n_vars", [("adam", "Adam", 2 + 2 * 3),
                                               ("sgd_schedule", "SGD", 1 + 3)])
def test_keras_written_optimizer_state_loads(compilable, case, cls, n_vars):
    model = load_model(DATA / f"keras_{case}.keras")
    opt = model.optimizer
    assert type(opt).__name__ == cls
    variables = opt.variables
    assert len(variables) == n_vars
    for i, v in enumerate(variables):
        assert_allclose(v, REF[f"{case}/opt{i}"], rtol=0, atol=0)
    assert opt.iterations == 4  # 16 rows, batch 4, one epoch
    assert f"{case}/opt{n_vars}" not in REF
    # training resumes from the stored state: one more step moves the weights
    before = model.get_weights()
    opt.apply([np.ones_like(w) for w in model.trainable_weights], model.trainable_weights)
    assert opt.iterations == 5
    assert not np.array_equal(model.get_weights()[0], before[0])


def test_keras_compiled_file_without_compile_interface_warns(monkeypatch):
    monkeypatch.delattr(Sequential, "compile_from_config", raising=False)
    with pytest.warns(UserWarning, match="compile_from_config.*compile=False"):
        model = load_model(DATA / "keras_adam.keras")
    assert_array_equal(model.get_weights()[0], REF["adam/w0"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_model(DATA / "keras_adam.keras", compile=False)


# ------------------------------------------------------------- compile state
def test_compiled_roundtrip_keeps_optimizer_state(tmp_path, compilable):
    model = trained(mlp(name="c"), optimizers.Adam(learning_rate=0.01))
    model.save(tmp_path / "c.keras")
    with zipfile.ZipFile(tmp_path / "c.keras") as zf:
        config = json.loads(zf.read("config.json"))
        with h5py.File(io.BytesIO(zf.read("model.weights.h5")), "r") as f:
            group = f["optimizer/vars"]
            assert group.attrs["name"] == model.optimizer.name
            stored = [group[str(i)][()] for i in range(len(group))]
    compile_config = config["compile_config"]
    assert compile_config["optimizer"]["module"] == "keras.optimizers"
    assert compile_config["optimizer"]["class_name"] == "Adam"
    assert compile_config["loss"] == "mse"
    assert len(stored) == len(model.optimizer.variables) == 2 + 2 * 4
    for a, b in zip(stored, model.optimizer.variables):
        assert_array_equal(a, b)
    back = load_model(tmp_path / "c.keras")
    assert back.optimizer is not model.optimizer
    assert back.optimizer.iterations == 3
    for a, b in zip(back.optimizer.variables, model.optimizer.variables):
        assert a.dtype == b.dtype
        assert_array_equal(a, b)
    # Both continue identically.
    grads = [RNG.standard_normal(w.shape).astype(np.float32) for w in model.trainable_weights]
    model.optimizer.apply(grads, model.trainable_weights)
    back.optimizer.apply(grads, back.trainable_weights)
    for a, b in zip(back.get_weights(), model.get_weights()):
        assert_array_equal(a, b)
    # compile=False: the architecture and weights only
    plain = load_model(tmp_path / "c.keras", compile=False)
    assert getattr(plain, "optimizer", None) is None


def test_schedule_optimizer_roundtrip(tmp_path, compilable):
    lr = optimizers.schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
    model = trained(mlp(), optimizers.SGD(learning_rate=lr, momentum=0.9), steps=2)
    model.save(tmp_path / "s.keras")
    with zipfile.ZipFile(tmp_path / "s.keras") as zf:
        opt_config = json.loads(zf.read("config.json"))["compile_config"]["optimizer"]
    assert opt_config["config"]["learning_rate"]["module"] == "keras.optimizers.schedules"
    back = load_model(tmp_path / "s.keras")
    assert back.optimizer.iterations == 2
    assert len(back.optimizer.variables) == 1 + 4
    for a, b in zip(back.optimizer.variables, model.optimizer.variables):
        assert_array_equal(a, b)


def test_unbuilt_optimizer_saved_with_its_slots(tmp_path, compilable):
    model = mlp()
    model.optimizer = optimizers.Adam()
    model._test_compile_config = compile_config_of(model.optimizer)
    model.save(tmp_path / "u.keras")
    assert not model.optimizer.built  # saving does not build the model's own optimizer
    back = load_model(tmp_path / "u.keras")
    assert len(back.optimizer.variables) == 2 + 2 * 4
    assert back.optimizer.iterations == 0


def test_optimizer_count_mismatch_warns_as_keras(tmp_path, compilable):
    model = trained(mlp(), optimizers.Adam())
    model.save(tmp_path / "c.keras")
    parts = read_parts(tmp_path / "c.keras")
    config = json.loads(parts["config.json"])
    config["compile_config"]["optimizer"]["config"]["amsgrad"] = True  # one slot more each
    parts["config.json"] = json.dumps(config).encode()
    write_archive(tmp_path / "a.keras", parts)
    with pytest.warns(UserWarning, match="Skipping variable loading for optimizer"):
        back = load_model(tmp_path / "a.keras")
    assert back.optimizer.iterations == 0
    assert_array_equal(back.get_weights()[0], model.get_weights()[0])


def test_optimizer_shape_mismatch_raises(tmp_path, compilable):
    model = trained(mlp(), optimizers.SGD(momentum=0.9))
    model.save(tmp_path / "c.keras")

    def shrink(f):
        del f["optimizer/vars/2"]
        f["optimizer/vars/2"] = np.zeros((2, 2), np.float32)

    rewrite_h5(tmp_path / "c.keras", tmp_path / "bad.keras", shrink)
    with pytest.raises(ValueError, match=r"optimizer state .* does not match .* variable 2"):
        load_model(tmp_path / "bad.keras")


def test_bad_compile_config_is_a_value_error(tmp_path, compilable):
    model = trained(mlp(), optimizers.Adam())
    model._test_compile_config = dict(model._test_compile_config,
                                      optimizer={"class_name": "Nope", "config": {}})
    model.save(tmp_path / "c.keras")
    with pytest.raises(ValueError, match="compile_config cannot be compiled.*compile=False"):
        load_model(tmp_path / "c.keras")
    assert load_model(tmp_path / "c.keras", compile=False).built


# -------------------------------------------------------------- failed saves
def test_failed_save_leaves_existing_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "m.keras"
    mlp().save(path)
    before = path.read_bytes()

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_weights_io, "_write_h5", full_disk)
    with pytest.raises(OSError, match="No space left"):
        mlp().save(path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["m.keras"]  # no partial files left behind


def test_failed_zip_write_leaves_existing_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "m.keras"
    mlp().save(path)
    before = path.read_bytes()

    def broken(self, *args, **kwargs):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(zipfile.ZipFile, "write", broken)
    with pytest.raises(OSError, match="Input/output"):
        mlp().save(path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["m.keras"]


def test_save_arguments(tmp_path):
    model = mlp()
    with pytest.raises(ValueError, match=r"`.keras` extension.*Received: filepath="):
        model.save(tmp_path / "m.h5")
    with pytest.raises(ValueError, match=r"save_weights"):
        model.save(tmp_path / "m.weights.h5")
    with pytest.raises(ValueError, match="zipped"):
        model.save(tmp_path / "m.keras", zipped=False)
    with pytest.raises(ValueError, match=r"not supported: \['bogus'\]"):
        model.save(tmp_path / "m.keras", bogus=1)
    with pytest.raises(TypeError, match="filepath"):
        model.save(3)
    with pytest.raises(TypeError, match="to a path"):
        model.save(io.BytesIO())
    model.save(tmp_path / "m.keras", include_optimizer=False)  # accepted, as in Keras
    before = (tmp_path / "m.keras").read_bytes()
    with pytest.raises(FileExistsError):
        mlp().save(tmp_path / "m.keras", overwrite=False)
    assert (tmp_path / "m.keras").read_bytes() == before
    assert not list(tmp_path.glob("*.npz"))


def test_load_arguments(tmp_path):
    with pytest.raises(ValueError, match=r"File not found: filepath=.*missing.keras"):
        load_model(tmp_path / "missing.keras")
    with pytest.raises(ValueError, match=r"expected a `.keras` extension"):
        load_model(tmp_path / "m.h5")
    (tmp_path / "text.keras").write_text("not a zip")
    with pytest.raises(ValueError, match="not a `.keras` zip archive"):
        load_model(tmp_path / "text.keras")
    with pytest.raises(ValueError, match="safe_mode"):
        load_model(DATA / "keras_uncompiled.keras", safe_mode="yes")
    with pytest.raises(ValueError, match="custom_objects"):
        load_model(DATA / "keras_uncompiled.keras", custom_objects=[Dense])
    with pytest.raises(TypeError, match="filepath"):
        load_model(3)


# ------------------------------------------------------------ hostile archives
def read_parts(path):
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def write_archive(path, parts, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)


def rewrite_h5(src, dst, edit):
    parts = read_parts(src)
    h5_path = dst.with_suffix(".h5")
    h5_path.write_bytes(parts["model.weights.h5"])
    with h5py.File(h5_path, "a") as f:
        edit(f)
    parts["model.weights.h5"] = h5_path.read_bytes()
    write_archive(dst, parts)


@pytest.fixture
def good(tmp_path):
    path = tmp_path / "good.keras"
    mlp().save(path)
    return path


@pytest.mark.parametrize("name", ["../config.json", "/etc/passwd", "assets/../../x",
                                  "..\\evil.txt", "C:/evil"])
def test_path_traversal_member_refused(tmp_path, good, name):
    parts = read_parts(good)
    parts[name] = b"x"
    write_archive(tmp_path / "t.keras", parts)
    with pytest.raises(ValueError, match="path traversal"):
        load_model(tmp_path / "t.keras")


@pytest.mark.parametrize("name", ["extra.txt", "assets/vocab.txt", "model.weights.json"])
def test_unexpected_member_refused(tmp_path, good, name):
    parts = read_parts(good)
    parts[name] = b"x"
    write_archive(tmp_path / "t.keras", parts)
    with pytest.raises(ValueError, match=f"unexpected archive member '{name}'"):
        load_model(tmp_path / "t.keras")


def test_npz_weights_member_refused(tmp_path, good):
    parts = read_parts(good)
    parts["model.weights.npz"] = parts.pop("model.weights.h5")
    write_archive(tmp_path / "t.keras", parts)
    with pytest.raises(ValueError, match="model.weights.npz"):
        load_model(tmp_path / "t.keras")


@pytest.mark.parametrize("missing, match", [("config.json", "no config.json"),
                                            ("model.weights.h5", "no model.weights.h5")])
def test_missing_member_refused(tmp_path, good, missing, match):
    parts = read_parts(good)
    del parts[missing]
    write_archive(tmp_path / "t.keras", parts)
    with pytest.raises(ValueError, match=match):
        load_model(tmp_path / "t.keras")


def test_metadata_is_optional(tmp_path, good):
    parts = read_parts(good)
    del parts["metadata.json"]
    write_archive(tmp_path / "t.keras", parts)
    assert load_model(tmp_path / "t.keras").built


def test_duplicate_member_refused(tmp_path, good):
    parts = read_parts(good)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
        with zipfile.ZipFile(tmp_path / "t.keras", "w") as zf:
            for name, data in parts.items():
                zf.writestr(name, data)
            zf.writestr("config.json", parts["config.json"])
    with pytest.raises(ValueError, match="holds 'config.json' twice"):
        load_model(tmp_path / "t.keras")


def _patch_central(path, name, **fields):
    """Rewrite fields of `name`'s central-directory record (a hostile zip directory)."""
    data = bytearray(path.read_bytes())
    offsets = {"flags": (8, "<H"), "compress_size": (20, "<I"), "file_size": (24, "<I")}
    start = 0
    while True:
        start = data.index(b"PK\x01\x02", start)
        n = struct.unpack_from("<H", data, start + 28)[0]
        if data[start + 46:start + 46 + n] == name.encode():
            break
        start += 4
    for field, value in fields.items():
        off, fmt = offsets[field]
        struct.pack_into(fmt, data, start + off, value)
    path.write_bytes(bytes(data))


def test_huge_declared_json_refused(tmp_path, good):
    path = tmp_path / "t.keras"
    path.write_bytes(good.read_bytes())
    _patch_central(path, "config.json", file_size=2**31, compress_size=2**31)
    with pytest.raises(ValueError, match=r"config.json declares 2147483648 bytes"):
        load_model(path)


def test_decompression_bomb_refused(tmp_path, good):
    path = tmp_path / "t.keras"
    path.write_bytes(good.read_bytes())
    _patch_central(path, "model.weights.h5", file_size=2**32 - 1)
    with pytest.raises(ValueError, match="decompression bomb"):
        load_model(path)


def test_weights_member_larger_than_model_needs_refused(tmp_path, good):
    path = tmp_path / "t.keras"
    path.write_bytes(good.read_bytes())
    _patch_central(path, "model.weights.h5", file_size=2**30, compress_size=2**30)
    with pytest.raises(ValueError, match="far more than this model's weights"):
        load_model(path)


def test_encrypted_member_refused(tmp_path, good):
    path = tmp_path / "t.keras"
    path.write_bytes(good.read_bytes())
    _patch_central(path, "config.json", flags=1)
    with pytest.raises(ValueError, match="encrypted"):
        load_model(path)


@pytest.mark.parametrize("config, match", [
    (b"{not json", "config.json is not valid JSON"),
    (b"[1, 2]", "must hold a JSON object"),
    (b"\"Sequential\"", "must hold a JSON object"),
    (b"[" * 100000 + b"]" * 100000, "nested too deeply|must hold a JSON object"),
    (json.dumps({"class_name": "Functional", "config": {}}).encode(), "only rebuild Sequential"),
    (json.dumps({"class_name": "Sequential", "config": {"name": "s", "layers": 3}}).encode(),
     "config.json is invalid.*layers"),
    (json.dumps({"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "Lambda", "config": {}}]}}).encode(), "config.json is invalid.*Lambda"),
    (json.dumps({"class_name": "Sequential", "config": []}).encode(), "config.json is invalid"),
])
def test_malformed_config_refused(tmp_path, good, config, match):
    parts = read_parts(good)
    parts["config.json"] = config
    write_archive(tmp_path / "t.keras", parts)
    with pytest.raises(ValueError, match=match):
        load_model(tmp_path / "t.keras")


@pytest.mark.parametrize("where", ["units", "input"])
def test_config_declaring_huge_weights_refused_before_building(tmp_path, good, where,
                                                                monkeypatch):
    parts = read_parts(good)
    config = json.loads(parts["config.json"])
    layers = config["config"]["layers"]
    if where == "units":
        layers[2]["config"]["units"] = 10**9
    else:
        layers[0]["config"]["batch_shape"] = [None, 10**9]
        layers[1].pop("build_config")
        config.pop("build_config")
        config["config"].pop("build_input_shape")
    parts["config.json"] = json.dumps(config).encode()
    write_archive(tmp_path / "t.keras", parts)

    def no_build(self, input_shape):
        raise AssertionError("built a hostile layer")

    monkeypatch.setattr(Dense, "build", no_build)
    with pytest.raises(ValueError, match=r"bytes of weights but model.weights.h5 holds only"):
        load_model(tmp_path / "t.keras")


def test_wrong_compile_config_type_refused(tmp_path, good, compilable):
    parts = read_parts(good)
    config = json.loads(parts["config.json"])
    config["compile_config"] = ["adam"]
    parts["config.json"] = json.dumps(config).encode()
    write_archive(tmp_path / "t.keras", parts)
    with pytest.raises(ValueError, match="compile_config must be an object"):
        load_model(tmp_path / "t.keras")


def test_weights_not_hdf5_refused(tmp_path, good):
    parts = read_parts(good)
    parts["model.weights.h5"] = b"\x00" * 512
    write_archive(tmp_path / "t.keras", parts)
    with pytest.raises(ValueError, match="not an HDF5 file"):
        load_model(tmp_path / "t.keras")


def test_weights_of_other_architecture_refused(tmp_path, good):
    parts = read_parts(good)
    config = json.loads(parts["config.json"])
    config["config"]["layers"][2]["config"]["units"] = 5
    config["config"]["layers"][3].pop("build_config")
    parts["config.json"] = json.dumps(config).encode()
    write_archive(tmp_path / "t.keras", parts)
    with pytest.raises(ValueError, match="does not match the architecture"):
        load_model(tmp_path / "t.keras")


def test_deflated_archive_loads(tmp_path, good):
    write_archive(tmp_path / "d.keras", read_parts(good), compression=zipfile.ZIP_DEFLATED)
    assert load_model(tmp_path / "d.keras").get_config() == load_model(good).get_config()


def test_external_link_in_weights_refused(tmp_path, good):
    (tmp_path / "secret.h5").write_bytes(b"")
    with h5py.File(tmp_path / "secret.h5", "w") as f:
        f["k"] = np.zeros((4, 8), np.float32)

    def link(f):
        del f["layers/dense/vars/0"]
        f["layers/dense/vars/0"] = h5py.ExternalLink(str(tmp_path / "secret.h5"), "/k")

    rewrite_h5(good, tmp_path / "t.keras", link)
    with pytest.raises(ValueError, match="external link"):
        load_model(tmp_path / "t.keras")


def test_external_storage_in_optimizer_refused(tmp_path, compilable):
    model = trained(mlp(), optimizers.SGD(momentum=0.9))
    model.save(tmp_path / "c.keras")
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"\x00" * 64)

    def external(f):
        del f["optimizer/vars/2"]
        f["optimizer/vars"].create_dataset(
            "2", shape=(4, 8), dtype="f4", external=[(str(secret), 0, h5py.h5f.UNLIMITED)])

    rewrite_h5(tmp_path / "c.keras", tmp_path / "t.keras", external)
    with pytest.raises(ValueError, match="external storage"):
        load_model(tmp_path / "t.keras")


def test_soft_link_group_refused(tmp_path, good):
    def soft(f):
        f.move("layers/dense", "layers/moved")
        f["layers/dense"] = h5py.SoftLink("/layers/moved")

    rewrite_h5(good, tmp_path / "t.keras", soft)
    with pytest.raises(ValueError, match="soft link"):
        load_model(tmp_path / "t.keras")


# -------------------------------------------------------------- live Keras
@pytest.mark.keras
def test_live_densekit_file_loads_in_keras(tmp_path, keras, monkeypatch):
    def get_compile_config(self):
        return getattr(self, "_test_compile_config", {})

    monkeypatch.setattr(Sequential, "get_compile_config", get_compile_config, raising=False)
    x = RNG.standard_normal((6, 4)).astype(np.float32)
    plain = mlp()
    plain.save(tmp_path / "p.keras")
    compiled = trained(mlp(), optimizers.Adam(learning_rate=0.01))
    compiled.save(tmp_path / "c.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kp = keras.models.load_model(tmp_path / "p.keras")
        kc = keras.models.load_model(tmp_path / "c.keras")
        kp_pred = kp.predict(x, verbose=0)
        kc_pred = kc.predict(x, verbose=0)
    assert_allclose(kp_pred, plain.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    assert_allclose(kc_pred, compiled.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    assert type(kp.layers[0].kernel_regularizer).__name__ == "L2"
    assert type(kp.layers[0].kernel_constraint).__name__ == "MaxNorm"
    assert type(kc.optimizer).__name__ == "Adam"
    assert int(np.asarray(kc.optimizer.iterations)) == 3
    ours = compiled.optimizer.variables
    theirs = [np.asarray(v) for v in kc.optimizer.variables]
    assert len(theirs) == len(ours)
    for a, b in zip(theirs, ours):
        assert_allclose(a, b, rtol=0, atol=0)


@pytest.mark.keras
def test_live_keras_file_loads_in_densekit(tmp_path, keras, compilable):
    gen = _generator()
    keras.utils.set_random_seed(1)
    cases = [c for c in gen.CASES if c != "reshape_dropout" or densekit_has(*WEIGHTLESS)]
    for case in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            km = gen.build(keras, case)
            in_shape = tuple(km.input_shape[1:])  # rank 3 for reshape_dropout
            if km.compiled:  # Keras' numpy backend has no fit: steps of its optimizer
                for _ in range(3):
                    km.optimizer.apply(
                        [RNG.standard_normal(v.shape).astype(np.float32)
                         for v in km.trainable_variables], km.trainable_variables)
            km.save(tmp_path / f"{case}.keras")
            x = RNG.standard_normal((5,) + in_shape).astype(np.float32)
            expected = km.predict(x, verbose=0)
        model = load_model(tmp_path / f"{case}.keras")
        assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
        if km.compiled:
            theirs = [np.asarray(v) for v in km.optimizer.variables]
            assert len(model.optimizer.variables) == len(theirs)
            for a, b in zip(model.optimizer.variables, theirs):
                assert_allclose(a, b, rtol=0, atol=0)
