import subprocess
import sys

import pytest


def densekit_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "densekit", *args], capture_output=True, text=True, timeout=600
    )


def test_info_reports_build_threads_and_versions():
    proc = densekit_cli("info")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    import densekit
    import numpy

    assert f"densekit {densekit.__version__}" in out
    assert "openmp: enabled, version" in out
    assert f"threads: {densekit.get_num_threads()}" in out
    assert "simd: " in out
    from densekit._lib import _dense

    expected = {3: "densekit FMA (avx512", 2: "densekit FMA (avx2"}.get(_dense.FMA_LEVEL,
                                                                       "numpy's BLAS")
    assert f"dense float32 product: {expected}" in out
    assert f"numpy: {numpy.__version__}" in out
    assert "scipy: " in out and "blas: " in out
    assert "compiler: " in out


@pytest.mark.parametrize("args", [[], ["--help"], ["info", "--help"], ["demo", "--help"]])
def test_help(args):
    proc = densekit_cli(*args)
    if args:
        assert proc.returncode == 0
        assert "usage: densekit" in proc.stdout
    else:
        assert proc.returncode == 2
        assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args",
    [["bogus"], ["demo", "--size", "-3"], ["demo", "--size", "x"], ["info", "--nope"],
     ["demo", "--threads", "0"]],
)
def test_bad_arguments_give_one_line_and_exit_2(args):
    proc = densekit_cli(*args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("densekit"), proc.stderr
    assert "Traceback" not in proc.stderr


def test_console_script_is_installed():
    import shutil

    exe = shutil.which("densekit")
    if exe is None:  # the venv's bin directory may not be on PATH
        from pathlib import Path

        exe = str(Path(sys.executable).with_name("densekit"))
    proc = subprocess.run([exe, "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "usage: densekit" in proc.stdout


def test_demo_runs_and_reports_speed_and_determinism():
    proc = densekit_cli("demo", "--size", "256", "--width", "256", "--repeat", "1",
                        "--threads", "2")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for name in ("RandomUniform", "RandomNormal", "HeNormal (truncated)", "memory-write floor"):
        assert name in out
    assert out.count("speed-up") == 5
    assert "same on 1 thread: True" in out
    assert "== whole[1000:1004, 2000:2010]: True" in out
    # The Keras tutorial model: its summary and a predict.
    assert "Total params: 1,208 (4.72 KB)" in out
    assert "output shape (1000, 8), dtype float32" in out
    assert "2 Dense(256, relu) layers, 131,584 parameters" in out


def test_dependencies_are_declared_and_info_shows_blas():
    # h5py, ml_dtypes, threadpoolctl and tqdm are run-time dependencies (issue 10 item 21):
    # `densekit info` names the BLAS instead of asking to install threadpoolctl.
    import pathlib
    import re
    import tomllib

    from densekit._cli import info_lines

    pyproject = pathlib.Path(__file__).resolve().parent.parent / "pyproject.toml"
    if pyproject.exists():
        deps = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
        names = {re.split(r"[<>=!~ \[]", d)[0].lower() for d in deps}
        assert {"h5py", "ml_dtypes", "threadpoolctl", "tqdm"} <= names
    blas = [line for line in info_lines() if line.startswith("blas: ")]
    assert blas and "install" not in blas[0] and "unknown" not in blas[0]
