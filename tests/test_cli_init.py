"""`densekit init`: writes the initializer's tensor; bad input is one line and exit 2."""

import json
import os
import shutil
import subprocess
import sys

import h5py
import ml_dtypes
import numpy as np
import pytest

from densekit import initializers
from densekit._cli import main

BF16 = np.dtype(ml_dtypes.bfloat16)


def _run(capsys, *argv):
    status = main(["init", *map(str, argv)])
    out, err = capsys.readouterr()
    return status, out, err


def _same_bits(a, b):
    assert a.shape == b.shape
    np.testing.assert_array_equal(np.ascontiguousarray(a).view(np.uint8),
                                  np.ascontiguousarray(b).view(np.uint8))


def test_writes_the_tensor_and_reports_throughput(tmp_path, capsys):
    path = tmp_path / "w.npy"
    status, out, err = _run(capsys, "he_normal", "--shape", 300, 200, "--seed", 0, "-o", path)
    assert status == 0, err
    _same_bits(np.load(path), initializers.HeNormal(seed=0)((300, 200)))
    assert "GB/s" in out and "elements/s" in out and "(300, 200)" in out
    assert "100%" in err  # the progress bar


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float64"])
def test_dtype_config_threads_and_chunks(tmp_path, capsys, dtype):
    path = tmp_path / "w.npy"
    status, _, err = _run(
        capsys, "VarianceScaling", "--shape", 64, 8, 33, "--seed", 5, "--dtype", dtype,
        "--config", '{"scale": 2.0, "distribution": "uniform"}', "--chunk-mib", 1,
        "--threads", 2, "-o", path, "--no-progress",
    )
    assert status == 0, err
    assert err == ""
    expected = initializers.VarianceScaling(scale=2.0, distribution="uniform", seed=5)(
        (64, 8, 33), BF16 if dtype == "bfloat16" else dtype)
    got = np.load(path)
    _same_bits(got.view(BF16) if dtype == "bfloat16" else got, expected)


def test_json_name_and_hdf5(tmp_path, capsys):
    spec = json.dumps({"class_name": "RandomUniform", "config": {"minval": 0.0, "maxval": 4.0}})
    target = f"{tmp_path / 'w.h5'}:/layer/kernel"
    status, out, err = _run(capsys, spec, "--shape", 50, 40, "--seed", 9, "-o", target,
                            "--no-progress")
    assert status == 0, err
    assert target in out
    with h5py.File(tmp_path / "w.h5", "r") as f:
        _same_bits(f["layer/kernel"][...], initializers.RandomUniform(0.0, 4.0, seed=9)((50, 40)))


def test_overwrite(tmp_path, capsys):
    path = tmp_path / "w.npy"
    assert _run(capsys, "ones", "--shape", 3, "-o", path)[0] == 0
    status, _, err = _run(capsys, "zeros", "--shape", 3, "-o", path)
    assert status == 2 and "already exists" in err and "--overwrite" in err
    assert np.load(path).tolist() == [1, 1, 1]
    assert _run(capsys, "zeros", "--shape", 3, "-o", path, "--overwrite")[0] == 0
    assert np.load(path).tolist() == [0, 0, 0]


@pytest.mark.parametrize(
    "argv, message",
    [(["he_normall", "--shape", "4"], "unknown initializer 'he_normall'"),
     (["he_normal", "--shape", "-3"], "expected a non-negative integer"),
     (["he_normal", "--shape", "x"], "expected a non-negative integer"),
     (["he_normal"], "--shape"),
     (["he_normal", "--shape", "4", "--dtype", "int8"], "invalid choice"),
     (["he_normal", "--shape", "4", "--config", "{scale: 2}"], "not valid JSON"),
     (["he_normal", "--shape", "4", "--config", "[1, 2]"], "must be a JSON object"),
     (["variance_scaling", "--shape", "4", "--config", '{"scale": -1}'], "scale"),
     (["variance_scaling", "--shape", "4", "--config", '{"bogus": 1}'], "bogus"),
     (["zeros", "--shape", "4", "--seed", "1"], "seed"),
     (['{"class_name": 3}', "--shape", "4"], "class_name"),
     (["{not json", "--shape", "4"], "not valid JSON"),
     (["ones", "--shape", "4", "--threads", "0"], "positive integer"),
     (["ones", "--shape", "4", "--chunk-mib", "0"], "positive integer")],
)
def test_bad_arguments_are_one_line_exit_2(tmp_path, capsys, argv, message):
    if "-o" not in argv:
        argv = [*argv, "-o", str(tmp_path / "w.npy")]
    try:
        status = main(["init", *argv])
    except SystemExit as exc:  # argparse's own errors
        status = exc.code
    out, err = capsys.readouterr()
    assert status == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("target, message", [
    ("missing/w.npy", "does not exist"),
    ("w.txt", "must end in .npy"),
    (".", "is a directory"),
])
def test_bad_output_paths(tmp_path, capsys, target, message):
    if target == ".":
        (tmp_path / "d.npy").mkdir()
        target = "d.npy"
    status, _, err = _run(capsys, "ones", "--shape", 4, "-o", tmp_path / target)
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1


def test_seed_used_is_printed(tmp_path, capsys):
    status, out, _ = _run(capsys, "RandomNormal", "--shape", 5, "-o", tmp_path / "w.npy",
                          "--no-progress")
    assert status == 0 and "RandomNormal(seed=" in out
    seed = int(out.split("RandomNormal(seed=")[1].split(")")[0])
    _same_bits(np.load(tmp_path / "w.npy"), initializers.RandomNormal(seed=seed)((5,)))


def test_full_disk_is_one_line_exit_1(tmp_path, capsys, monkeypatch):
    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda p: real(p)._replace(free=10))
    status, _, err = _run(capsys, "ones", "--shape", 100, 100, "-o", tmp_path / "w.npy")
    assert status == 1
    assert err.startswith("densekit init: error: No space left on device")
    assert len(err.strip().splitlines()) == 1
    assert os.listdir(tmp_path) == []


def test_console_entry_point(tmp_path):
    path = tmp_path / "w.npy"
    res = subprocess.run(
        [sys.executable, "-m", "densekit", "init", "glorot_uniform", "--shape", "100", "10",
         "--seed", "1", "-o", str(path)],
        capture_output=True, text=True, timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert "GB/s" in res.stdout
    _same_bits(np.load(path), initializers.GlorotUniform(seed=1)((100, 10)))
    bad = subprocess.run(
        [sys.executable, "-m", "densekit", "init", "nope", "--shape", "3", "-o", str(path)],
        capture_output=True, text=True, timeout=120,
    )
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
