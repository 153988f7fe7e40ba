"""Dask arrays whose chunks are generated where they are computed.

``from_initializer(init, shape, chunks)`` builds a :class:`dask.array.Array`
whose task graph holds no data: each task holds the (small, picklable)
initializer, the full shape and its chunk's index, and calls
``init.block(shape, index)`` on whichever worker runs it. Because densekit's
samplers are counter-based, the chunks put together equal ``init(shape)`` bit
for bit, whatever the chunking and wherever each chunk is computed.

Needs the ``dask`` extra: ``pip install 'densekit[dask]'``.
"""

import numpy as np

from densekit._threads import effective_n_threads
from densekit._validation import check_shape
from densekit.initializers._layout import resolve_dtype, resolve_initializer

try:
    import dask.array as _da
    from dask.base import tokenize as _tokenize
    try:
        from cloudpickle import dumps as _dumps
    except ImportError:  # pragma: no cover - cloudpickle comes with dask
        from pickle import dumps as _dumps
except ImportError as exc:  # pragma: no cover - exercised only without dask
    raise ImportError(
        "densekit.dask needs dask: pip install 'densekit[dask]' "
        "(dask[array] and distributed)"
    ) from exc

__all__ = ["from_initializer"]


def _block_task(initializer, shape, out_dtype, n_threads, block_info=None):
    """Generate one chunk: the block of the whole tensor at this chunk's location."""
    info = block_info[None]
    index = tuple(slice(lo, hi) for lo, hi in info["array-location"])
    dtype = resolve_dtype(out_dtype)
    if not index:
        return initializer(shape, dtype, n_threads=n_threads)
    return initializer.block(shape, index, dtype, n_threads=n_threads)


def from_initializer(initializer, shape, chunks="auto", dtype="float32", *, n_threads=None,
                     name=None):
    """A lazy dask array equal to ``initializer(shape, dtype)``, generated chunk by chunk.

    Parameters
    ----------
    initializer : Initializer, str or dict
        A densekit initializer instance, or anything
        :func:`densekit.initializers.get` accepts. It travels to the workers by
        pickle, so it must pickle (densekit's initializers do; an instance seeded
        with ``seed=None`` keeps the seed it drew, so every worker agrees).
    shape : int or tuple of int
        Shape of the whole tensor.
    chunks : int, tuple, "auto" or dict
        Any chunk specification :func:`dask.array.from_array` accepts.
    dtype : {"float32", "float64", "float16", "bfloat16"}, default "float32"
        Element type.
    n_threads : int or None
        Threads of the sampling kernel in each task. None: the worker's
        :func:`densekit.get_num_threads` (``dask.distributed`` workers run with
        ``OMP_NUM_THREADS=1`` by default, one task per worker thread).
    name : str or None
        Dask key prefix; by default derived from the initializer, shape, chunks
        and dtype, so equal inputs give equal keys.

    Returns
    -------
    dask.array.Array
        Each task calls ``initializer.block(shape, index)`` for its chunk; the graph
        stores only the initializer, the shape and the indices (no array data).

    Raises
    ------
    TypeError
        The initializer cannot be pickled, or a bad dtype.
    ValueError
        A bad shape, or a chunk size of 0 on a non-empty dimension.

    Notes
    -----
    Write a tensor too large for one machine's memory straight to storage with
    ``from_initializer(...).to_zarr("w.zarr")`` (zarr installed) or
    ``from_initializer(...).store(target)`` with any array-like target that
    supports slice assignment (an ``np.memmap``, an h5py dataset, a zarr array);
    chunks are generated and written in parallel and never all held at once.

    Examples
    --------
    >>> import numpy as np
    >>> from densekit import initializers
    >>> from densekit.dask import from_initializer
    >>> init = initializers.RandomNormal(seed=1)
    >>> x = from_initializer(init, (1000, 600), chunks=(300, 250))
    >>> bool(np.array_equal(x.compute(), init((1000, 600))))
    True
    """
    init = resolve_initializer(initializer)
    shape = check_shape(shape)
    dtype = resolve_dtype(dtype)
    if n_threads is not None:
        effective_n_threads(n_threads)  # validate now, resolve on the worker
    try:
        # cloudpickle (a dask dependency) is what distributed sends tasks with.
        payload = _dumps(init)
    except Exception as exc:
        raise TypeError(
            f"Argument `initializer` must be picklable to be sent to dask workers: "
            f"{type(exc).__name__}: {exc}. Received: initializer={init!r}"
        ) from None
    try:
        chunks = _da.core.normalize_chunks(chunks, shape, dtype=dtype)
    except ZeroDivisionError:
        # dask divides each dimension by its chunk size: a 0 gets here.
        raise ValueError(
            "Argument `chunks` must give every non-empty dimension a chunk size of at "
            "least 1 (-1 or None mean the whole dimension). "
            f"Received: chunks={chunks!r} for shape={shape!r}"
        ) from None
    if name is None:
        name = "densekit-" + type(init).__name__.lower() + "-" + _tokenize(
            payload, shape, chunks, str(dtype), n_threads
        )
    return _da.map_blocks(
        _block_task,
        initializer=init,
        shape=shape,
        # The dtype travels as a name: ml_dtypes' bfloat16 is rebuilt on the worker.
        out_dtype=dtype.name,
        n_threads=n_threads,
        dtype=dtype,
        chunks=chunks,
        meta=np.empty((0,) * len(shape), dtype=dtype),
        name=name,
    )
