"""densekit.io.initialize_file: files equal the in-memory tensor; errors leave nothing behind."""

import errno
import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
import threading

import h5py
import ml_dtypes
import numpy as np
import pytest

import densekit
from densekit import initializers
from densekit.io import DEFAULT_H5_DATASET, _block_plan, _h5_chunks, initialize_file

BF16 = np.dtype(ml_dtypes.bfloat16)
DTYPES = ["float32", "float64", "float16", "bfloat16"]


def _np_dtype(name):
    return BF16 if name == "bfloat16" else np.dtype(name)


def _load_npy(path, dtype):
    arr = np.load(path, mmap_mode="r")
    if dtype == "bfloat16":
        assert arr.dtype == np.dtype("V2")
        arr = arr.view(BF16)
    return arr


def _same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape
    assert a.dtype == b.dtype
    np.testing.assert_array_equal(
        np.ascontiguousarray(a).view(np.uint8), np.ascontiguousarray(b).view(np.uint8)
    )


class Interrupting:
    """Delegates to a real initializer, raising `exc` at the `at`-th block (blocks may be
    generated on several threads at once)."""

    def __init__(self, inner, at, exc):
        self.inner, self.at, self.exc, self.calls = inner, at, exc, 0
        self._lock = threading.Lock()

    def __call__(self, *args, **kwargs):
        return self.inner(*args, **kwargs)

    def block(self, *args, **kwargs):
        with self._lock:
            self.calls += 1
            call = self.calls
        if call == self.at:
            raise self.exc
        return self.inner.block(*args, **kwargs)


# ---------------------------------------------------------------------------- plan
@pytest.mark.parametrize(
    "shape, chunk",
    [((10, 7), 4 * 7 * 3), ((10, 7), 4 * 5), ((3, 4, 5), 4 * 20), ((3, 4, 5), 4 * 7),
     ((3, 4, 5), 4), ((11,), 12), ((), 4), ((2, 3, 0), 8), ((5, 1, 9), 4 * 200)],
)
def test_block_plan_covers_the_tensor_in_order(shape, chunk):
    itemsize = 4
    plan = list(_block_plan(shape, itemsize, chunk))
    seen = np.zeros(int(np.prod(shape)), dtype=int)
    ref = np.arange(seen.size).reshape(shape)
    pos = 0
    for index, start, count, block_shape in plan:
        assert count * itemsize <= max(chunk, itemsize)
        assert start == pos  # contiguous and in order
        block = ref[index]
        assert block.shape == block_shape
        assert block.size == count
        np.testing.assert_array_equal(block.reshape(-1), np.arange(start, start + count))
        seen[start:start + count] += 1
        pos += count
    assert (seen == 1).all()


@pytest.mark.parametrize("shape, itemsize, expected", [
    ((2, 300, 500), 4, ((1, 300, 500), 0)),
    ((4096, 4096), 4, ((64, 4096), 0)),
    ((3, 1024, 1024), 2, ((1, 512, 1024), 1)),
    ((10**6,), 8, ((131072,), 0)),
    ((), 4, (None, None)),
    ((5, 0), 4, (None, None)),
])
def test_h5_chunks_are_about_one_mib(shape, itemsize, expected):
    assert _h5_chunks(shape, itemsize) == expected


def test_block_plan_aligns_rows_to_hdf5_chunks():
    plan = list(_block_plan((100, 10), 4, 4 * 10 * 23, align_rows=8))
    rows = [index[0] for index, *_ in plan]
    assert all(s.start % 8 == 0 for s in rows)
    assert rows[0] == slice(0, 16)


# ---------------------------------------------------------------------------- npy
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "init", [initializers.HeNormal(seed=3), initializers.RandomUniform(-1.0, 2.0, seed=7),
             initializers.TruncatedNormal(seed=11)],
    ids=lambda i: type(i).__name__,
)
def test_npy_equals_the_in_memory_tensor(tmp_path, init, dtype):
    shape = (37, 53)
    path = tmp_path / "w.npy"
    # 1000-byte chunks: many blocks, none aligned with rows.
    out = initialize_file(path, shape, init, dtype, chunk_bytes=1000, progress=False)
    assert out == str(path)
    _same_bits(_load_npy(path, dtype), init(shape, _np_dtype(dtype)))
    assert os.listdir(tmp_path) == ["w.npy"]


@pytest.mark.parametrize(
    "shape, chunk_bytes",
    [((3, 5, 700), 1000),     # a row (700 values) is larger than a chunk: split inside rows
     ((4, 3, 2, 5), 40),      # 4-D, blocks inside the second axis
     ((1001,), 64),           # 1-D
     ((), 64),                # 0-d
     ((6, 0, 3), 64),         # empty
     ((64, 64), 2**20)],      # one block holds everything
)
def test_npy_any_shape_and_chunking(tmp_path, shape, chunk_bytes, n_threads):
    init = initializers.RandomNormal(seed=5)
    path = tmp_path / "x.npy"
    initialize_file(path, shape, init, chunk_bytes=chunk_bytes, n_threads=n_threads,
                    progress=False)
    loaded = np.load(path)
    _same_bits(loaded, init(shape))


def test_npy_is_independent_of_chunk_size_and_threads(tmp_path):
    init = initializers.GlorotUniform(seed=1)
    blobs = set()
    for i, (chunk, threads) in enumerate([(2**20, 1), (4096, 2), (12345 * 4, 4), (4, 1)]):
        path = tmp_path / f"{i}.npy"
        initialize_file(path, (50, 333), init, chunk_bytes=chunk, n_threads=threads,
                        progress=False)
        blobs.add(path.read_bytes())
    assert len(blobs) == 1


def test_orthogonal_and_constant_initializers_work(tmp_path):
    for init in [initializers.Orthogonal(seed=2), initializers.Constant(0.25),
                 initializers.Identity(gain=3.0)]:
        path = tmp_path / f"{type(init).__name__}.npy"
        initialize_file(path, (40, 30), init, chunk_bytes=256, progress=False)
        _same_bits(np.load(path), init((40, 30)))


def test_whole_cost_initializers_are_computed_once_per_tensor(tmp_path, monkeypatch):
    # Orthogonal's block() factors the whole matrix: a file of many blocks must not
    # factor it once per block.
    init = initializers.Orthogonal(seed=3)
    expected = init((64, 48))
    factors = []
    real = initializers.Orthogonal._factor

    def counting(self, *args, **kwargs):
        factors.append(args)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(initializers.Orthogonal, "_factor", counting)
    for threads in (1, 3):
        factors.clear()
        path = tmp_path / f"o{threads}.npy"
        initialize_file(path, (64, 48), init, chunk_bytes=512, n_threads=threads,
                        progress=False)
        assert len(factors) == 1
        _same_bits(np.load(path), expected)


def test_keras_style_initializer_of_the_wrong_dtype_is_refused(tmp_path):
    class Float64Always(initializers.Initializer):
        def __call__(self, shape, dtype=None):
            return np.zeros(shape, dtype=np.float64)

    with pytest.raises(TypeError, match="returned an array of shape"):
        initialize_file(tmp_path / "w.npy", (40, 40), Float64Always(), chunk_bytes=256,
                        progress=False)
    assert os.listdir(tmp_path) == []


def test_blocks_generated_in_parallel_equal_the_whole(tmp_path):
    # Many small blocks on several generating threads, written in order by one.
    init = initializers.TruncatedNormal(seed=5)
    shape = (257, 129)
    for threads in (2, 3, 5):
        path = tmp_path / f"p{threads}.npy"
        initialize_file(path, shape, init, chunk_bytes=3000, n_threads=threads,
                        progress=False)
        _same_bits(np.load(path), init(shape))


def test_initializer_given_by_name_or_config(tmp_path):
    initialize_file(tmp_path / "a.npy", (8, 9), "zeros", progress=False)
    assert not np.load(tmp_path / "a.npy").any()
    cfg = {"class_name": "RandomUniform", "config": {"minval": 1.0, "maxval": 2.0, "seed": 4}}
    initialize_file(tmp_path / "b.npy", (8, 9), cfg, progress=False)
    _same_bits(np.load(tmp_path / "b.npy"), initializers.get(cfg)((8, 9)))


def test_unseeded_initializer_is_written_with_its_own_seed(tmp_path):
    init = initializers.RandomNormal()  # draws its seed once, at construction
    initialize_file(tmp_path / "u.npy", (20, 20), init, chunk_bytes=100, progress=False)
    _same_bits(np.load(tmp_path / "u.npy"), init((20, 20)))


def test_file_mode_follows_the_umask(tmp_path):
    initialize_file(tmp_path / "w.npy", (3,), initializers.Ones(), progress=False)
    np.save(tmp_path / "ref.npy", np.ones(3))
    assert stat.S_IMODE(os.stat(tmp_path / "w.npy").st_mode) == stat.S_IMODE(
        os.stat(tmp_path / "ref.npy").st_mode)


def test_fsync_and_overwrite(tmp_path):
    path = tmp_path / "w.npy"
    path.write_bytes(b"old")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        initialize_file(path, (4, 4), initializers.Ones(), progress=False)
    assert path.read_bytes() == b"old"
    initialize_file(path, (4, 4), initializers.Ones(), progress=False, overwrite=True,
                    fsync=True)
    _same_bits(np.load(path), np.ones((4, 4), np.float32))


# ---------------------------------------------------------------------------- HDF5
@pytest.mark.parametrize("dtype", DTYPES)
def test_h5_equals_the_in_memory_tensor(tmp_path, dtype):
    init = initializers.LecunNormal(seed=9)
    shape = (300, 41)
    target = f"{tmp_path / 'w.h5'}:/layers/dense/kernel"
    # 2000-byte steps against ~1 MiB HDF5 chunks: steps stay whole-chunk aligned.
    out = initialize_file(target, shape, init, dtype, chunk_bytes=2000, progress=False)
    assert out == f"{tmp_path / 'w.h5'}:/layers/dense/kernel"
    with h5py.File(tmp_path / "w.h5", "r") as f:
        data = f["layers/dense/kernel"][...]
    expected = init(shape, _np_dtype(dtype))
    if dtype == "bfloat16":
        # Stored as a true 16-bit HDF5 float; h5py reads it as float32, exactly.
        assert data.dtype == np.float32
        expected = expected.astype(np.float32)
    _same_bits(data, expected)
    assert os.listdir(tmp_path) == ["w.h5"]


def test_h5_default_dataset_and_shapes(tmp_path, n_threads):
    init = initializers.RandomUniform(seed=2)
    for i, shape in enumerate([(2, 300, 500), (7,), (), (0, 3)]):
        path = tmp_path / f"{i}.hdf5"
        out = initialize_file(path, shape, init, chunk_bytes=4000, progress=False,
                              n_threads=n_threads)
        assert out == f"{path}:/{DEFAULT_H5_DATASET}"
        with h5py.File(path, "r") as f:
            _same_bits(f[DEFAULT_H5_DATASET][()], init(shape))


def test_h5_interrupted_leaves_nothing(tmp_path):
    init = Interrupting(initializers.HeUniform(seed=0), at=3, exc=KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        initialize_file(f"{tmp_path}/w.h5:/k", (100, 100), init, chunk_bytes=4000,
                        progress=False)
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------------------- interruption
@pytest.mark.parametrize("exc", [KeyboardInterrupt(), RuntimeError("boom")],
                         ids=["KeyboardInterrupt", "RuntimeError"])
def test_interrupted_run_leaves_no_file(tmp_path, exc):
    init = Interrupting(initializers.HeNormal(seed=0), at=5, exc=exc)
    with pytest.raises(type(exc)):
        initialize_file(tmp_path / "w.npy", (100, 100), init, chunk_bytes=4000,
                        progress=False)
    # Blocks are generated ahead on several threads, but no further than the ring of
    # n_threads + 2 buffers: generation stops right after the failure.
    assert 5 <= init.calls <= 5 + densekit.get_num_threads() + 2
    assert os.listdir(tmp_path) == []


def test_interrupted_overwrite_keeps_the_old_file(tmp_path):
    path = tmp_path / "w.npy"
    np.save(path, np.arange(3))
    old = path.read_bytes()
    init = Interrupting(initializers.HeNormal(seed=0), at=2, exc=KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        initialize_file(path, (100, 100), init, chunk_bytes=4000, progress=False,
                        overwrite=True)
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ["w.npy"]


def test_cli_style_sigint_in_a_subprocess_leaves_no_file(tmp_path):
    # A real SIGINT while writing: the temporary file is removed.
    code = textwrap.dedent(f"""
        import os, signal, threading
        # A shell that starts a job in the background ignores SIGINT for it, and Python
        # keeps an inherited SIG_IGN: restore the handler that raises KeyboardInterrupt.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        from densekit import initializers
        from densekit.io import initialize_file
        init = initializers.RandomNormal(seed=0)
        class Slow:
            calls = 0
            def __call__(self, *a, **k): return init(*a, **k)
            def block(self, *a, **k):
                Slow.calls += 1
                if Slow.calls == 3:
                    os.kill(os.getpid(), signal.SIGINT)
                return init.block(*a, **k)
        try:
            initialize_file({str(tmp_path / 'w.npy')!r}, (256, 1024), Slow(),
                            chunk_bytes=2**16, progress=False)
        except KeyboardInterrupt:
            print("interrupted", sorted(os.listdir({str(tmp_path)!r})))
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert res.stdout.strip() == "interrupted []", res.stderr


# ---------------------------------------------------------------------------- errors
def test_bad_paths(tmp_path):
    init = initializers.Ones()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        initialize_file(tmp_path / "missing" / "w.npy", (2, 2), init, progress=False)
    (tmp_path / "d.npy").mkdir()
    with pytest.raises(IsADirectoryError, match="is a directory"):
        initialize_file(tmp_path / "d.npy", (2, 2), init, progress=False)
    for bad in ["w.txt", "w", "w.npz", "w.h5:"]:
        with pytest.raises(ValueError, match="Argument `path`"):
            initialize_file(str(tmp_path / bad), (2, 2), init, progress=False)
    with pytest.raises(TypeError, match="Argument `path`"):
        initialize_file(3, (2, 2), init, progress=False)
    assert os.listdir(tmp_path) == ["d.npy"]


def test_bad_arguments(tmp_path):
    path = tmp_path / "w.npy"
    with pytest.raises(TypeError, match="Argument `dtype`"):
        initialize_file(path, (2, 2), initializers.Ones(), "int32", progress=False)
    with pytest.raises(TypeError, match="Argument `dtype`"):
        initialize_file(path, (2, 2), initializers.Ones(), "complex64", progress=False)
    with pytest.raises(ValueError, match="negative"):
        initialize_file(path, (2, -1), initializers.Ones(), progress=False)
    with pytest.raises(TypeError):
        initialize_file(path, (2, 1.5), initializers.Ones(), progress=False)
    with pytest.raises(ValueError, match="Could not interpret initializer identifier"):
        initialize_file(path, (2, 2), "he_normall", progress=False)
    with pytest.raises(TypeError, match="Argument `initializer`"):
        initialize_file(path, (2, 2), lambda shape, dtype=None: None, progress=False)
    with pytest.raises(ValueError, match="Argument `chunk_bytes`"):
        initialize_file(path, (2, 2), initializers.Ones(), "float64", chunk_bytes=4,
                        progress=False)
    with pytest.raises(TypeError, match="Argument `chunk_bytes`"):
        initialize_file(path, (2, 2), initializers.Ones(), chunk_bytes=1.5, progress=False)
    with pytest.raises(ValueError, match="Argument `n_threads`"):
        initialize_file(path, (2, 2), initializers.Ones(), n_threads=0, progress=False)
    assert os.listdir(tmp_path) == []


def _assert_enospc(excinfo, tmp_path):
    assert excinfo.value.errno == errno.ENOSPC
    assert "No space left on device" in str(excinfo.value)
    assert "w.npy" in str(excinfo.value)
    assert os.listdir(tmp_path) == []


def test_full_disk_is_detected_before_writing(tmp_path, monkeypatch):
    real = shutil.disk_usage

    def tiny(path):
        return real(path)._replace(free=1000)

    monkeypatch.setattr(shutil, "disk_usage", tiny)
    with pytest.raises(OSError) as excinfo:
        initialize_file(tmp_path / "w.npy", (100, 100), initializers.Ones(), progress=False)
    _assert_enospc(excinfo, tmp_path)


def test_full_disk_at_preallocation(tmp_path, monkeypatch):
    def no_space(fd, offset, length):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "posix_fallocate", no_space)
    with pytest.raises(OSError) as excinfo:
        initialize_file(tmp_path / "w.npy", (100, 100), initializers.Ones(), progress=False)
    _assert_enospc(excinfo, tmp_path)


def test_full_disk_while_writing(tmp_path, monkeypatch):
    real = os.pwrite
    calls = []

    def pwrite(fd, data, offset):
        calls.append(offset)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", pwrite)
    with pytest.raises(OSError) as excinfo:
        initialize_file(tmp_path / "w.npy", (100, 100), initializers.RandomNormal(seed=0),
                        chunk_bytes=4000, progress=False)
    _assert_enospc(excinfo, tmp_path)
    assert len(calls) == 3  # the writer stopped at the first failure


def test_short_writes_are_completed(tmp_path, monkeypatch):
    real = os.pwrite

    def short(fd, data, offset):  # the kernel may write less than asked
        return real(fd, data[: max(1, len(data) // 3)], offset)

    monkeypatch.setattr(os, "pwrite", short)
    init = initializers.RandomNormal(seed=0)
    initialize_file(tmp_path / "w.npy", (50, 50), init, chunk_bytes=1000, progress=False)
    _same_bits(np.load(tmp_path / "w.npy"), init((50, 50)))


# ---------------------------------------------------------------------------- progress
def test_progress_bar(tmp_path, capsys):
    initialize_file(tmp_path / "a.npy", (64, 64), initializers.Ones(), chunk_bytes=4096,
                    progress=True)
    err = capsys.readouterr().err
    assert "a.npy" in err and "100%" in err
    initialize_file(tmp_path / "b.npy", (64, 64), initializers.Ones(), progress=False)
    initialize_file(tmp_path / "c.npy", (64, 64), initializers.Ones())  # not a TTY: silent
    assert capsys.readouterr().err == ""


# ---------------------------------------------------------------------------- memory
_MEMORY_SCRIPT = textwrap.dedent("""
    import json, sys, threading, time
    import numpy as np
    from densekit import initializers
    from densekit.io import initialize_file

    def rss_anon():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024

    path, gib, chunk = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    init = initializers.RandomUniform(seed=0)
    initialize_file(path + ".warm.npy", (256, 1024), init, progress=False)  # load everything
    base = rss_anon()
    peak = [base]
    done = threading.Event()

    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], rss_anon())
            time.sleep(0.002)

    t = threading.Thread(target=watch)
    t.start()
    n_rows = int(gib * 2**30 / 4 / 8192)
    start = time.perf_counter()
    initialize_file(path, (n_rows, 8192), init, chunk_bytes=chunk, progress=False)
    seconds = time.perf_counter() - start
    done.set()
    t.join()
    # Spot-check the file against the whole tensor's blocks.
    x = np.load(path, mmap_mode="r")
    for r in (0, n_rows // 2, n_rows - 3):
        assert (x[r:r + 3] == init.block(x.shape, (slice(r, r + 3),))).all()
    print(json.dumps({"base": base, "peak": peak[0], "seconds": seconds,
                      "bytes": n_rows * 8192 * 4}))
""")


def _measure_anon(tmp_path, gib):
    chunk = 64 * 2**20
    res = subprocess.run(
        [sys.executable, "-c", _MEMORY_SCRIPT, str(tmp_path / "big.npy"), str(gib), str(chunk)],
        capture_output=True, text=True, timeout=600,
    )
    assert res.returncode == 0, res.stderr
    facts = json.loads(res.stdout.strip().splitlines()[-1])
    grown = facts["peak"] - facts["base"]
    # Two reusable chunk buffers, plus slack for the interpreter and thread stacks:
    # far below the file size (8x smaller at 512 MiB, 32x at 2 GiB).
    assert grown <= 2 * chunk + 32 * 2**20, facts
    assert os.path.getsize(tmp_path / "big.npy") == facts["bytes"] + 128
    return facts


def test_bounded_anonymous_memory_512mib(tmp_path):
    _measure_anon(tmp_path, 0.5)


@pytest.mark.slow
def test_bounded_anonymous_memory_2gib(tmp_path):
    _measure_anon(tmp_path, 2.0)


def test_missing_h5py_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r"densekit\[h5\]"):
        initialize_file(tmp_path / "w.h5", (3,), initializers.Ones(), progress=False)
    assert os.listdir(tmp_path) == []
