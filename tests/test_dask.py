"""densekit.dask.from_initializer: lazy, data-free graphs equal to the whole tensor."""

import logging
import pickle
import subprocess
import sys
import threading

import dask
import dask.array as da
import distributed
import ml_dtypes
import numpy as np
import pytest

from densekit import initializers
from densekit.dask import from_initializer

BF16 = np.dtype(ml_dtypes.bfloat16)


def _same_bits(a, b):
    assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_array_equal(
        np.ascontiguousarray(a).view(np.uint8), np.ascontiguousarray(b).view(np.uint8)
    )


@pytest.mark.parametrize(
    "shape, chunks",
    [((101, 67), (13, 29)),
     ((101, 67), ((50, 1, 50), (7, 60))),   # uneven, explicit
     ((5, 7, 11), (2, 3, 4)),
     ((1000,), 333),
     ((), ()),
     ((0, 4), (1, 2)),
     ((64, 64), "auto")],
)
def test_compute_equals_the_whole_tensor(shape, chunks):
    init = initializers.HeNormal(seed=42)
    x = from_initializer(init, shape, chunks)
    assert isinstance(x, da.Array)
    assert x.shape == shape and x.dtype == np.float32
    with dask.config.set(scheduler="threads"):
        _same_bits(x.compute(), init(shape))


def test_n_threads_does_not_change_the_values(n_threads):
    init = initializers.RandomNormal(seed=6)
    x = from_initializer(init, (300, 200), (128, 64), n_threads=n_threads)
    _same_bits(x.compute(scheduler="threads"), init((300, 200)))
    with pytest.raises(ValueError, match="Argument `n_threads`"):
        from_initializer(init, (3, 3), 2, n_threads=0)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
def test_dtypes(dtype):
    init = initializers.RandomUniform(-3.0, 3.0, seed=1)
    x = from_initializer(init, (40, 30), (7, 11), dtype)
    expected = init((40, 30), BF16 if dtype == "bfloat16" else dtype)
    assert x.dtype == expected.dtype
    _same_bits(x.compute(scheduler="threads"), expected)


def test_graph_holds_no_data():
    init = initializers.TruncatedNormal(seed=0)
    x = from_initializer(init, (4096, 4096), (512, 512))
    graph = dict(x.__dask_graph__())
    assert len(graph) == 64
    # Each task pickles to a few hundred bytes, not a 1 MiB chunk.
    sizes = [len(pickle.dumps(task)) for task in graph.values()]
    assert max(sizes) < 4096, max(sizes)
    for task in graph.values():
        assert not any(isinstance(d, np.ndarray) and d.size > 1 for d in _leaves(task))


def _leaves(obj, depth=0):
    if depth > 6:
        return
    yield obj
    for attr in ("args", "kwargs", "value"):
        sub = getattr(obj, attr, None)
        if isinstance(sub, dict):
            for v in sub.values():
                yield from _leaves(v, depth + 1)
        elif isinstance(sub, (tuple, list)):
            for v in sub:
                yield from _leaves(v, depth + 1)


def test_slicing_computes_only_the_needed_chunks():
    init = initializers.RandomNormal(seed=3)
    shape = (10**5, 10**5)
    x = from_initializer(init, shape, (1000, 1000))  # 40 GB in 10**4 chunks, lazily
    part = x[12345:12349, 99_990:].compute(scheduler="sync")
    _same_bits(part, init.block(shape, (slice(12345, 12349), slice(99_990, None))))


def test_names_are_deterministic_and_distinct():
    a = from_initializer(initializers.HeNormal(seed=1), (10, 10), 5)
    b = from_initializer(initializers.HeNormal(seed=1), (10, 10), 5)
    c = from_initializer(initializers.HeNormal(seed=2), (10, 10), 5)
    d = from_initializer(initializers.HeNormal(seed=1), (10, 10), 5, "float64")
    assert a.name == b.name
    assert len({a.name, c.name, d.name}) == 3
    assert a.name.startswith("densekit-henormal-")


def test_unseeded_initializer_travels_with_its_seed():
    init = initializers.GlorotNormal()  # seed drawn once at construction
    clone = pickle.loads(pickle.dumps(init))
    _same_bits(clone((30, 20)), init((30, 20)))
    x = from_initializer(init, (30, 20), (7, 6))
    _same_bits(x.compute(scheduler="threads"), init((30, 20)))


def test_initializer_by_name_and_errors():
    x = from_initializer("ones", (3, 4), 2)
    _same_bits(x.compute(), np.ones((3, 4), np.float32))
    with pytest.raises(ValueError, match="Could not interpret initializer identifier"):
        from_initializer("nope", (3, 4), 2)
    with pytest.raises(TypeError, match="Argument `dtype`"):
        from_initializer("ones", (3, 4), 2, "int8")
    with pytest.raises(ValueError, match="negative"):
        from_initializer("ones", (3, -4), 2)


@pytest.mark.parametrize("chunks", [(0, 2), 0, (2, 0)])
def test_zero_chunk_size_is_a_clear_value_error(chunks):
    # dask's normalize_chunks divides by the chunk size: this was a ZeroDivisionError.
    with pytest.raises(ValueError, match=r"Argument `chunks` must give every non-empty"):
        from_initializer("ones", (4, 4), chunks)


def test_zero_chunk_on_an_empty_dimension_is_fine():
    x = from_initializer("ones", (0, 4), (0, 2))
    assert x.compute().shape == (0, 4)

    class Local(initializers.Initializer):
        def __init__(self):
            self.lock = threading.Lock()  # a lock pickles with neither pickle nor cloudpickle

        def __call__(self, shape, dtype=None, **kwargs):
            return np.zeros(shape, dtype or np.float32)

        def block(self, shape, index, dtype=None, **kwargs):
            return self(shape, dtype)[index]

    with pytest.raises(TypeError, match="picklable"):
        from_initializer(Local(), (3, 4), 2)


def test_store_into_a_memmap(tmp_path):
    init = initializers.GlorotUniform(seed=5)
    x = from_initializer(init, (300, 200), (64, 50))
    target = np.lib.format.open_memmap(tmp_path / "w.npy", mode="w+", dtype=np.float32,
                                       shape=x.shape)
    da.store(x, target, scheduler="threads", lock=False)
    target.flush()
    del target
    _same_bits(np.load(tmp_path / "w.npy"), init((300, 200)))


def test_to_zarr(tmp_path):
    zarr = pytest.importorskip("zarr")
    init = initializers.HeUniform(seed=8)
    x = from_initializer(init, (120, 90), (50, 40))
    x.to_zarr(str(tmp_path / "w.zarr"))
    _same_bits(np.asarray(zarr.open_array(str(tmp_path / "w.zarr"), mode="r")[...]),
               init((120, 90)))


def test_distributed_local_cluster():
    init = initializers.TruncatedNormal(mean=1.0, stddev=2.0, seed=123)
    shape = (777, 333)
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=None, silence_logs=logging.ERROR) as cluster:
        with distributed.Client(cluster) as client:
            x = from_initializer(init, shape, (100, 70))
            y = from_initializer(init, shape, (333, 111), "bfloat16")
            unseeded = initializers.HeUniform()  # its drawn seed must reach both workers
            z = from_initializer(unseeded, (300, 200), (50, 30))
            got, got16, gotz = client.compute([x, y, z], sync=True)
            workers = client.run(lambda: 1)
    assert len(workers) == 2
    _same_bits(got, init(shape))
    _same_bits(got16, init(shape, BF16))
    _same_bits(gotz, unseeded((300, 200)))


def test_missing_dask_names_the_extra():
    code = ("import sys; sys.modules['dask'] = None; sys.modules['dask.array'] = None\n"
            "try:\n    import densekit.dask\nexcept ImportError as e:\n    print(e)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert "pip install 'densekit[dask]'" in res.stdout, res.stderr
