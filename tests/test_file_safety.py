"""densekit.io and `densekit init` on hostile file systems: full disks (simulated and on
a real 2 MiB tmpfs), killed processes, '..' paths, pseudo and read-only file systems.
Issue 10, items 3, 7 and 8."""

import contextlib
import errno
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap

import h5py
import numpy as np
import pytest

import densekit.io as dio
from densekit import initializers
from densekit._cli import main
from densekit.io import initialize_file


def _host():
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:32]


def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@contextlib.contextmanager
def small_tmpfs(tmp_path, size="2m"):
    """A real tmpfs of `size` (needs root and mount permission, else skip)."""
    mnt = tmp_path / "tmpfs"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root and mount permission): "
                    f"{res.stderr.strip() or res.returncode}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _run_python(code, timeout=120):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout)


# ------------------------------------------------------------------ item 3: HDF5, full disk
def test_h5_space_is_reserved_and_enospc_is_clean(tmp_path, monkeypatch):
    # Simulated ENOSPC at the reservation: before the fix HDF5 reserved nothing (and a
    # full disk crashed h5py's flush at close); now the space is reserved up front.
    calls = []

    def no_space(fd, nbytes):
        calls.append(nbytes)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(dio, "_fallocate_keep_size", no_space)
    with pytest.raises(OSError) as excinfo:
        initialize_file(tmp_path / "w.h5", (300, 200), initializers.Ones(), progress=False)
    assert excinfo.value.errno == errno.ENOSPC
    assert "w.h5" in str(excinfo.value) and "nothing was left behind" in str(excinfo.value)
    assert calls and calls[0] >= 300 * 200 * 4
    assert os.listdir(tmp_path) == []


def test_h5_free_space_check_counts_the_whole_file(tmp_path, monkeypatch):
    # Enough free space for the data bytes but not for the HDF5 file (whole edge chunks
    # and metadata): refused before anything is created.
    import shutil

    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda p: real(p)._replace(free=300 * 200 * 4 + 10))
    with pytest.raises(OSError) as excinfo:
        initialize_file(tmp_path / "w.h5", (300, 200), initializers.Ones(), progress=False)
    assert excinfo.value.errno == errno.ENOSPC
    assert os.listdir(tmp_path) == []


def test_h5_reservation_leaves_no_slack_in_the_file(tmp_path):
    init = initializers.HeNormal(seed=0)
    initialize_file(tmp_path / "w.h5", (1000, 300), init, progress=False)
    st = os.stat(tmp_path / "w.h5")
    # The unused part of the reservation is given back.
    assert st.st_blocks * 512 <= st.st_size + 64 * 1024
    with h5py.File(tmp_path / "w.h5", "r") as f:
        np.testing.assert_array_equal(f["data"][...], init((1000, 300)))


_TMPFS_H5 = """
    import os, sys
    import densekit.io as dio
    from densekit import initializers
    mnt, lie = sys.argv[1], sys.argv[2] == "lie"
    if lie:  # as if the free-space check were wrong or raced: the reservation catches it
        dio._free_bytes = lambda directory: 10**12
    n = (2 * 2**20 - 1024) // 4  # data just below the file system's size
    try:
        dio.initialize_file(os.path.join(mnt, "w.h5"), (n,), initializers.RandomNormal(seed=0),
                            progress=False)
        print("written")
    except OSError as exc:
        print("errno", exc.errno, sorted(os.listdir(mnt)))
"""


@pytest.mark.parametrize("lie", ["honest", "lie"])
def test_h5_on_a_full_tmpfs_fails_cleanly(tmp_path, lie):
    with small_tmpfs(tmp_path) as mnt:
        res = subprocess.run([sys.executable, "-c", textwrap.dedent(_TMPFS_H5), str(mnt), lie],
                             capture_output=True, text=True, timeout=120)
        # Before the fix: a segmentation fault (returncode -11) and a .partial left.
        assert res.returncode == 0, res.stderr
        assert res.stdout.strip() == f"errno {errno.ENOSPC} []", res.stdout + res.stderr
        assert "Exception ignored" not in res.stderr
        assert os.listdir(mnt) == []


def test_h5_that_fits_a_small_tmpfs_is_written(tmp_path):
    with small_tmpfs(tmp_path) as mnt:
        init = initializers.RandomNormal(seed=0)
        n = 256 * 1024 // 4
        initialize_file(mnt / "w.h5", (n,), init, progress=False)
        assert os.listdir(mnt) == ["w.h5"]
        with h5py.File(mnt / "w.h5", "r") as f:
            np.testing.assert_array_equal(f["data"][...], init((n,)))


# ------------------------------------------------------------- item 7: killed processes
def test_partial_file_is_named_after_its_process(tmp_path):
    seen = []
    inner = initializers.HeNormal(seed=0)

    class Peek:
        def __call__(self, *a, **k):
            return inner(*a, **k)

        def block(self, shape, index, *a, **k):
            seen.extend(os.listdir(tmp_path))
            return inner.block(shape, index, *a, **k)

    initialize_file(tmp_path / "w.npy", (64, 64), Peek(), chunk_bytes=4096, progress=False)
    partials = {name for name in seen if name.endswith(".partial")}
    assert len(partials) == 1
    (name,) = partials
    assert name.startswith(f".w.npy.{os.getpid()}@{_host()}.")
    assert os.listdir(tmp_path) == ["w.npy"]


def test_stale_partials_of_dead_processes_are_removed(tmp_path):
    dead = _dead_pid()
    host = _host()
    stale = tmp_path / f".w.npy.{dead}@{host}.abcd1234.partial"
    alive = tmp_path / f".w.npy.1@{host}.abcd1234.partial"          # pid 1 always lives
    elsewhere = tmp_path / f".w.npy.{dead}@another-host.abcd1234.partial"
    other_target = tmp_path / f".v.npy.{dead}@{host}.abcd1234.partial"
    legacy = tmp_path / ".w.npy.k2j3h4g5.partial"                   # no owner recorded
    for p in (stale, alive, elsewhere, other_target, legacy):
        p.write_bytes(b"x" * 100)
    initialize_file(tmp_path / "w.npy", (3,), initializers.Ones(), progress=False)
    assert not stale.exists()
    assert alive.exists() and elsewhere.exists() and other_target.exists() and legacy.exists()
    assert np.load(tmp_path / "w.npy").tolist() == [1, 1, 1]


def test_sigkill_leftover_is_cleaned_by_the_next_run(tmp_path):
    target = tmp_path / "w.npy"
    code = f"""
        import time
        from densekit import initializers
        from densekit.io import initialize_file
        init = initializers.RandomNormal(seed=0)
        class Hang:
            def __call__(self, *a, **k): return init(*a, **k)
            def block(self, shape, index, *a, **k):
                if index and index[0].start:  # after the first block: wait to be killed
                    print("writing", flush=True)
                    time.sleep(600)
                return init.block(shape, index, *a, **k)
        initialize_file({str(target)!r}, (256, 1024), Hang(), chunk_bytes=2**16, progress=False)
    """
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    left = [n for n in os.listdir(tmp_path) if n.endswith(".partial")]
    assert len(left) == 1 and left[0].startswith(f".w.npy.{proc.pid}@")  # findable
    initialize_file(target, (4,), initializers.Ones(), progress=False)
    assert os.listdir(tmp_path) == ["w.npy"]


def test_cli_sigterm_removes_the_partial_file(tmp_path):
    target = tmp_path / "w.npy"
    code = f"""
        import os, signal
        import densekit.io as dio
        real, calls = dio._NpyWriter.write, []
        def write(self, *args):
            calls.append(1)
            if len(calls) == 2:
                os.kill(os.getpid(), signal.SIGTERM)
            return real(self, *args)
        dio._NpyWriter.write = write
        from densekit._cli import main
        status = main(["init", "ones", "--shape", "1024", "1024", "--chunk-mib", "1",
                       "-o", {str(target)!r}, "--no-progress"])
        print(status, sorted(os.listdir({str(tmp_path)!r})))
    """
    res = _run_python(code)
    # Before the fix SIGTERM killed the process (returncode -15), leaving the .partial.
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "143 []"
    assert "densekit: terminated" in res.stderr


# ------------------------------------------------------------------- item 8: paths
def test_dotdot_through_a_missing_directory_is_refused_before_any_work(tmp_path):
    (tmp_path / "d").mkdir()
    calls = []
    inner = initializers.Ones()

    class Count:
        def __call__(self, *a, **k):
            calls.append("call")
            return inner(*a, **k)

        def block(self, *a, **k):
            calls.append("block")
            return inner.block(*a, **k)

    target = os.path.join(str(tmp_path), "d", "missing", "..", "x.npy")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        initialize_file(target, (100, 100), Count(), chunk_bytes=4000, progress=False)
    assert calls.count("block") <= 1  # at most the empty validation block: no data
    assert os.listdir(tmp_path / "d") == []


def test_dotdot_through_a_symlink_goes_where_the_os_says(tmp_path):
    # a/link -> b/c, so a/link/.. is b (not a, as a lexical resolution would say).
    (tmp_path / "a").mkdir()
    (tmp_path / "b" / "c").mkdir(parents=True)
    os.symlink(tmp_path / "b" / "c", tmp_path / "a" / "link")
    out = initialize_file(os.path.join(str(tmp_path), "a", "link", "..", "x.npy"), (3,),
                          initializers.Ones(), progress=False)
    assert os.path.exists(tmp_path / "b" / "x.npy")
    assert not os.path.exists(tmp_path / "a" / "x.npy")
    assert out.endswith("x.npy")


def test_proc_is_not_reported_as_a_full_disk():
    if not os.path.isdir("/proc") or os.statvfs("/proc").f_blocks != 0:
        pytest.skip("needs a Linux /proc that reports a size of 0")
    with pytest.raises(OSError) as excinfo:
        initialize_file("/proc/densekit-test.npy", (4,), initializers.Ones(), progress=False)
    assert excinfo.value.errno != errno.ENOSPC
    assert "No space left" not in str(excinfo.value)
    assert "/proc/densekit-test.npy" in str(excinfo.value)


def test_read_only_file_system_error_names_the_path_simulated(tmp_path, capsys, monkeypatch):
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    status = main(["init", "ones", "--shape", "4", "-o", str(tmp_path / "w.npy")])
    err = capsys.readouterr().err
    assert status == 1
    assert str(tmp_path / "w.npy") in err and "Read-only file system" in err
    assert len(err.strip().splitlines()) == 1


def test_read_only_file_system_error_names_the_path_tmpfs(tmp_path, capsys):
    with small_tmpfs(tmp_path) as mnt:
        res = subprocess.run(["mount", "-o", "remount,ro", str(mnt)], capture_output=True)
        if res.returncode != 0:
            pytest.skip("cannot remount the tmpfs read-only")
        status = main(["init", "ones", "--shape", "4", "-o", str(mnt / "w.npy")])
        err = capsys.readouterr().err
        assert status == 1
        assert str(mnt / "w.npy") in err and "Read-only file system" in err


def test_initializer_is_validated_before_the_file_and_the_bar(tmp_path, capsys, monkeypatch):
    created = []
    real = tempfile.mkstemp

    def spy(*args, **kwargs):
        created.append(kwargs.get("dir"))
        return real(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", spy)
    with pytest.raises(ValueError, match="rank|dimensions|2"):
        initialize_file(tmp_path / "w.npy", (5,), initializers.Orthogonal(seed=0), progress=True)
    assert created == []                      # no temporary file was created
    assert capsys.readouterr().err == ""      # and no progress bar was started
    assert os.listdir(tmp_path) == []


def test_foreign_initializers_are_not_probed_with_a_whole_computation(tmp_path):
    calls = []

    class KerasStyle(initializers.Initializer):
        def __call__(self, shape, dtype=None):
            calls.append(shape)
            return np.full(shape, 2.0, dtype=dtype or "float32")

    initialize_file(tmp_path / "w.npy", (10, 10), KerasStyle(), chunk_bytes=80, progress=False)
    assert len(calls) == 1  # one whole computation for all blocks, no extra probe
    assert (np.load(tmp_path / "w.npy") == 2).all()
    # A tensor of one block is one call too.
    initialize_file(tmp_path / "v.npy", (3, 3), KerasStyle(), progress=False)
    assert len(calls) == 2
    assert (np.load(tmp_path / "v.npy") == 2).all()
