"""Weight files under failure and attack: atomic saves (issue 10 item 6), files that
point outside themselves (item 9) and decompression bombs (item 10)."""

import errno
import io as _io
import os
import subprocess
import sys
import textwrap
import zipfile

import h5py
import numpy as np
import pytest

import densekit.io as dio
from densekit.layers import Dense, Input
from densekit.models import Sequential

RNG = np.random.default_rng(3)


def small():
    model = Sequential([Input((1,)), Dense(2)], name="small")
    model.set_weights([np.array([[1.0, 2.0]]), np.array([3.0, 4.0])])
    return model


def enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


# ------------------------------------------------------------- item 6: atomic saves
def test_failed_npz_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    small().save_weights(path)
    old = path.read_bytes()

    def half_then_full(file, **arrays):
        file.write(b"PK\x03\x04 half a zip")
        enospc()

    monkeypatch.setattr(np, "savez", half_then_full)
    with pytest.raises(OSError) as excinfo:
        small().save_weights(path)
    assert excinfo.value.errno == errno.ENOSPC
    assert path.read_bytes() == old  # before the fix: a BadZipFile
    assert os.listdir(tmp_path) == ["m.npz"]


def test_failed_h5_reservation_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "m.weights.h5"
    small().save_weights(path)
    old = path.read_bytes()
    monkeypatch.setattr(dio, "_fallocate_keep_size", enospc)
    with pytest.raises(OSError) as excinfo:
        small().save_weights(path)
    assert excinfo.value.errno == errno.ENOSPC
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ["m.weights.h5"]


def test_failed_h5_write_is_an_oserror_and_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "m.weights.h5"
    small().save_weights(path)
    old = path.read_bytes()

    def failing_setitem(self, name, value):
        raise RuntimeError("Can't write data (file write failed: errno = 28, error "
                           "message = 'No space left on device')")

    monkeypatch.setattr(h5py.Group, "__setitem__", failing_setitem)
    with pytest.raises(OSError) as excinfo:  # before the fix: RuntimeError, file shrunk
        small().save_weights(path)
    assert excinfo.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ["m.weights.h5"]


_TMPFS_SAVE = """
    import os, sys
    import numpy as np
    from densekit.layers import Dense, Input
    from densekit.models import Sequential
    mnt, suffix = sys.argv[1], sys.argv[2]
    path = os.path.join(mnt, "m" + suffix)
    small = Sequential([Input((1,)), Dense(2)], name="small")
    small.set_weights([np.array([[1.0, 2.0]]), np.array([3.0, 4.0])])
    small.save_weights(path)
    big = Sequential([Input((768,)), Dense(1024)])  # 3 MiB of weights: does not fit
    try:
        big.save_weights(path)
        print("saved")
    except OSError as exc:
        other = Sequential([Input((1,)), Dense(2)], name="other")
        other.load_weights(path)
        print("errno", exc.errno, other.get_weights()[1].tolist(), sorted(os.listdir(mnt)))
"""


@pytest.mark.parametrize("suffix", [".npz", ".weights.h5"])
def test_save_on_a_full_tmpfs_keeps_the_old_file(tmp_path, suffix):
    mnt = tmp_path / "tmpfs"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root and mount permission): "
                    f"{res.stderr.strip() or res.returncode}")
    try:
        res = subprocess.run([sys.executable, "-c", textwrap.dedent(_TMPFS_SAVE), str(mnt),
                              suffix], capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        assert res.stdout.strip() == f"errno {errno.ENOSPC} [3.0, 4.0] ['m{suffix}']", (
            res.stdout + res.stderr)
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_save_replaces_the_old_file_and_leaves_no_partial(tmp_path):
    path = tmp_path / "m.weights.h5"
    small().save_weights(path)
    model = Sequential([Input((1,)), Dense(2)])
    model.set_weights([np.array([[5.0, 6.0]]), np.array([7.0, 8.0])])
    model.save_weights(path)
    assert os.listdir(tmp_path) == ["m.weights.h5"]
    loaded = small()
    loaded.load_weights(path)
    assert loaded.get_weights()[0].tolist() == [[5.0, 6.0]]


# ----------------------------------------------------- item 9: files outside the file
def _h5_with(tmp_path, make_kernel):
    """A .weights.h5 for small() whose kernel dataset is made by make_kernel(group)."""
    path = tmp_path / "evil.weights.h5"
    small().save_weights(path)
    with h5py.File(path, "a") as f:
        group = f["layers/dense/vars"]
        del group["0"]
        make_kernel(group)
    return path


def _assert_refused(path, match):
    model = small()
    before = model.get_weights()
    with pytest.raises(ValueError, match=match):
        model.load_weights(path)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_external_storage_is_refused(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"root:x:0:0")
    path = _h5_with(tmp_path, lambda g: g.create_dataset(
        "0", shape=(1, 2), dtype="u1", external=[(str(secret), 0, h5py.h5f.UNLIMITED)]))
    # Before the fix the kernel became the secret's bytes ([[114, 111]]).
    _assert_refused(path, "external storage")


def test_external_link_is_refused(tmp_path):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["k"] = np.ones((1, 2))
    path = _h5_with(tmp_path, lambda g: g.__setitem__("0", h5py.ExternalLink(str(other), "/k")))
    _assert_refused(path, "external link")


def test_external_link_at_group_level_is_refused(tmp_path):
    other = tmp_path / "other.h5"
    small().save_weights(other.with_suffix(".weights.h5"))
    path = tmp_path / "evil.weights.h5"
    small().save_weights(path)
    with h5py.File(path, "a") as f:
        del f["layers/dense"]
        f["layers/dense"] = h5py.ExternalLink(str(other.with_suffix(".weights.h5")),
                                              "/layers/dense")
    _assert_refused(path, "external link")


def test_soft_link_is_refused(tmp_path):
    def make(group):
        group.file["elsewhere"] = np.ones((1, 2))
        group["0"] = h5py.SoftLink("/elsewhere")

    _assert_refused(_h5_with(tmp_path, make), "soft link")


def test_virtual_dataset_is_refused(tmp_path):
    source = tmp_path / "source.h5"
    with h5py.File(source, "w") as f:
        f["k"] = np.ones((1, 2))

    def make(group):
        layout = h5py.VirtualLayout(shape=(1, 2), dtype="f8")
        layout[:] = h5py.VirtualSource(str(source), "k", shape=(1, 2))
        group.create_virtual_dataset("0", layout)

    _assert_refused(_h5_with(tmp_path, make), "virtual dataset")


# --------------------------------------------------------- item 10: decompression bombs
def test_npz_bomb_is_refused_from_its_header(tmp_path, monkeypatch):
    # A member declaring a 1 GiB float32 array, with (almost) no data behind it.
    path = tmp_path / "bomb.npz"
    header = _io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": (2**28,)})
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("layers/dense/vars/0.npy", header.getvalue() + b"\0" * 4096)
        z.writestr("layers/dense/vars/1.npy", header.getvalue() + b"\0" * 4096)
    reads = []
    real = np.lib.format.read_array
    monkeypatch.setattr(np.lib.format, "read_array",
                        lambda *a, **k: reads.append(1) or real(*a, **k))
    _assert_refused(path, r"has shape \(268435456,\) in the file")
    assert reads == []  # no data were read (before the fix: read, then compared)


def test_h5_bomb_is_refused_from_its_shape(tmp_path, monkeypatch):
    # 256 MiB declared, a few KiB on disk (unwritten gzip chunks).
    def make(group):
        group.create_dataset("0", shape=(2**13, 2**13), dtype="f4", compression="gzip",
                             chunks=(1024, 1024))

    path = _h5_with(tmp_path, make)
    assert os.path.getsize(path) < 1 << 20
    reads = []
    for method in ("__getitem__", "__array__", "read_direct"):
        real = getattr(h5py.Dataset, method)
        monkeypatch.setattr(h5py.Dataset, method,
                            lambda self, *a, _real=real, **k: reads.append(self.name)
                            or _real(self, *a, **k))
    _assert_refused(path, r"has shape \(8192, 8192\) in the file")
    assert reads == []  # before the fix: all 256 MiB read, then compared


def test_bad_npz_is_a_value_error(tmp_path):
    path = tmp_path / "junk.npz"
    path.write_bytes(b"not a zip at all")
    _assert_refused(path, "not a valid .npz")
    with zipfile.ZipFile(tmp_path / "hdr.npz", "w") as z:
        z.writestr("layers/dense/vars/0.npy", b"\x93NUMPY garbage")
    _assert_refused(tmp_path / "hdr.npz", "bad .npy header")
