"""Shape, dtype and block-index helpers shared by the initializers (private).

The samplers in :mod:`densekit._lib._random` write element ``i`` of the flat
(C-order) stream of a whole tensor as a function of ``(seed, i)`` only. A kernel
call fills a 2-D C-contiguous ``(n_rows, row_len)`` array with the elements
``start + r * row_stride + c``. This module turns a block index into as few such
calls ("runs") as possible, without any work proportional to the whole tensor.
"""

import itertools

import numpy as np

from densekit._validation import MAX_ELEMENTS, check_int, check_shape

__all__ = [
    "BlockPlan",
    "bfloat16_dtype",
    "check_axes",
    "compute_fans",
    "half_code",
    "kernel_view",
    "plan_block",
    "resolve_dtype",
    "resolve_initializer",
    "size_of",
]

# Most elements a tensor may have (see _validation.MAX_ELEMENTS for why 2**62).
_MAX_ELEMENTS = MAX_ELEMENTS

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.float16))


def _bfloat16_dtype(required):
    """The ml_dtypes bfloat16 dtype, or None (or ImportError if `required`)."""
    try:
        import ml_dtypes
    except ImportError:
        if required:
            raise ImportError(
                "dtype='bfloat16' needs the ml_dtypes package (the bfloat16 type "
                "JAX and others use with numpy): pip install ml_dtypes"
            ) from None
        return None
    return np.dtype(ml_dtypes.bfloat16)


def bfloat16_dtype():
    """ml_dtypes' bfloat16 as an np.dtype (densekit.torch views tensors with it)."""
    return _bfloat16_dtype(required=True)


def _is_bfloat16(dtype):
    return dtype.kind == "V" and dtype.itemsize == 2 and dtype.name == "bfloat16"


def resolve_dtype(dtype, *, allow_integer=False, name="dtype"):
    """Return the output dtype for `dtype` (None gives float32).

    Floating outputs are float32, float64, float16 and ml_dtypes' bfloat16 (the
    string ``'bfloat16'`` imports ml_dtypes, with a clear ImportError when it is
    missing). Integer and boolean dtypes are accepted only when `allow_integer`
    (the constant initializers); anything else is a TypeError.
    """
    if dtype is None:
        return np.dtype(np.float32)
    if isinstance(dtype, str) and dtype.strip().lower() == "bfloat16":
        return _bfloat16_dtype(required=True)
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        raise TypeError(
            f"Argument `{name}` must be a floating dtype (float32, float64, float16 "
            f"or bfloat16). Received: {name}={dtype!r}"
        ) from None
    if resolved in _FLOAT_DTYPES or _is_bfloat16(resolved):
        return resolved
    if allow_integer and resolved.kind in "biu":
        return resolved
    kinds = "a floating or integer" if allow_integer else "a floating"
    raise TypeError(
        f"Argument `{name}` must be {kinds} dtype (float32, float64, float16 or "
        f"bfloat16). Received: {name}={dtype!r}"
    )


def half_code(dtype):
    """The kernels' `half` argument: 0 for float32/float64, 1 float16, 2 bfloat16."""
    if dtype == np.float16:
        return 1
    if _is_bfloat16(dtype):
        return 2
    return 0


def kernel_view(arr):
    """`arr` as the kernels see it: 16-bit floats travel as their uint16 bits."""
    if arr.dtype.itemsize == 2:
        return arr.view(np.uint16)
    return arr


def size_of(shape, name="shape"):
    """Number of elements of `shape`, which must be addressable by the kernels."""
    n = 1
    for dim in shape:
        n *= dim
    if n > _MAX_ELEMENTS:
        raise ValueError(
            f"Argument `{name}` describes {n} elements, more than the limit of "
            f"2**62 = {_MAX_ELEMENTS} elements: the samplers' 64-bit index arithmetic "
            f"must stay below 2**63 without overflow. Received: {name}={shape!r}"
        )
    return n


def check_axes(axes, name):
    """`axes` (None, an int, or a list/tuple of ints) as None or a tuple of ints."""
    if axes is None:
        return None
    items = list(axes) if isinstance(axes, (list, tuple)) else [axes]
    message = (f"Argument `{name}` must be None, an int or a list of ints. "
               f"Received: {name}={axes!r}")
    return tuple(check_int(item, name, message=message) for item in items)


def _resolve_fan_axes(axes, rank, name, shape):
    resolved = []
    for axis in axes:
        if not -rank <= axis < rank:
            raise ValueError(
                f"Argument `{name}` has axis {axis}, out of range for shape={shape} "
                f"of rank {rank}."
            )
        resolved.append(axis % rank)
    return resolved


def compute_fans(shape, input_axes=None, output_axes=None):
    """Return ``(fan_in, fan_out)`` for a weight shape, as Keras computes them.

    Without axes: rank 0 gives (1, 1); rank 1 ``(n,)`` gives (n, n); rank 2
    ``(a, b)`` gives (a, b); for rank >= 3 the leading dims are a receptive
    field: ``fan_in = shape[-2] * prod(shape[:-2])`` and
    ``fan_out = shape[-1] * prod(shape[:-2])``.

    With both `input_axes` and `output_axes` (an int or a list of ints, e.g.
    for einsum kernels), as in Keras 3.15: ``fan_in = prod(shape[input_axes])``
    and ``fan_out = prod(shape[output_axes])``; axes in neither list count in
    neither fan. With only one of them, Keras ignores it and so does densekit:
    the rule above applies. Axes may be negative; an axis out of range or
    repeated within a list is a ValueError.

    Examples
    --------
    >>> from densekit.initializers import compute_fans
    >>> compute_fans((3, 3, 16, 32))
    (144, 288)
    >>> compute_fans((512, 8, 64), input_axes=[0], output_axes=[1, 2])
    (512, 512)
    """
    shape = tuple(shape)
    if input_axes is None and output_axes is None:
        if len(shape) < 1:
            return 1, 1
        if len(shape) == 1:
            return shape[0], shape[0]
        if len(shape) == 2:
            return shape[0], shape[1]
        receptive = 1
        for dim in shape[:-2]:
            receptive *= dim
        return shape[-2] * receptive, shape[-1] * receptive
    rank = len(shape)
    given_in = check_axes(input_axes, "input_axes")
    given_out = check_axes(output_axes, "output_axes")
    ins = None if given_in is None else _resolve_fan_axes(given_in, rank, "input_axes", shape)
    outs = None if given_out is None else _resolve_fan_axes(given_out, rank, "output_axes", shape)
    for axes, name in ((ins, "input_axes"), (outs, "output_axes")):
        if axes is not None and len(set(axes)) != len(axes):
            raise ValueError(
                f"Argument `{name}` must not repeat an axis. "
                f"Received: input_axes={input_axes!r}, output_axes={output_axes!r}"
            )
    if ins is None or outs is None:
        # Keras uses the axes only when both are given.
        return compute_fans(shape)
    fan_in = fan_out = 1
    for axis in ins:
        fan_in *= shape[axis]
    for axis in outs:
        fan_out *= shape[axis]
    return fan_in, fan_out


def _index_int(value, what):
    return check_int(value, "index", error=TypeError, message=lambda: (
        f"Argument `index` must hold integers and step-1 slices; booleans are "
        f"not allowed. Received {what}={value!r}"
        if isinstance(value, (bool, np.bool_)) else
        f"Argument `index` must hold integers and step-1 slices. "
        f"Received {what}={value!r} of type {type(value).__name__}"))


class BlockPlan:
    """How to produce ``whole[index]`` with kernel runs.

    Attributes
    ----------
    shape : tuple of int
        Shape of the block (``whole[index].shape``).
    starts, lengths : tuple of int
        Per dimension of the whole tensor, the first index and the length the
        block covers (1 for an integer index).
    key : tuple
        The normalised numpy index (non-negative ints and ``slice(start, stop)``),
        so that ``whole[key]`` is the block.
    """

    __slots__ = ("full_shape", "shape", "starts", "lengths", "key", "_runs")

    def __init__(self, full_shape, shape, starts, lengths, key):
        self.full_shape = full_shape
        self.shape = shape
        self.starts = starts
        self.lengths = lengths
        self.key = key  # the normalised numpy index: ints and slice(start, stop)
        self._runs = None

    def runs(self):
        """Return ``(n_rows, row_len, row_stride, starts)``.

        Every run fills ``n_rows * row_len`` consecutive elements of the C-order
        block, in order, from the stream elements
        ``start + r * row_stride + c``; `starts` iterates over the runs' starts
        (a single one for most blocks). Nothing here is proportional to the whole
        tensor: dims the block spans fully are merged into the one beneath.
        """
        if self._runs is None:
            self._runs = self._compute_runs()
        n_rows, row_len, row_stride, base, outer = self._runs
        if not outer:
            return n_rows, row_len, row_stride, iter((base,))
        ranges = [range(base_d, base_d + length * stride, stride)
                  for length, stride, base_d in outer]
        starts = (base + sum(offsets) for offsets in itertools.product(*ranges))
        return n_rows, row_len, row_stride, starts

    def _compute_runs(self):
        full = self.full_shape
        strides = [1] * len(full)
        for d in range(len(full) - 2, -1, -1):
            strides[d] = strides[d + 1] * full[d + 1]
        base = 0
        # (length, stride, covers_whole_dim) of the dims that vary, outermost first.
        dims = []
        for start, length, dim, stride in zip(self.starts, self.lengths, full, strides):
            base += start * stride
            if length != 1:
                dims.append([length, stride, length == dim])
        # Merge a dim into the one above it when it is spanned fully: their
        # elements are then equally spaced with the outer dim's stride.
        merged = []
        for length, stride, whole in reversed(dims):
            if merged and merged[-1][2] and merged[-1][0] * merged[-1][1] == stride:
                inner = merged[-1]
                inner[0] *= length
                inner[2] = whole
            else:
                merged.append([length, stride, whole])
        merged.reverse()
        # The last dim is the row only if it is contiguous in the stream.
        if not merged or merged[-1][1] != 1:
            merged.append([1, 1, True])
        row_len = merged[-1][0]
        if len(merged) >= 2:
            n_rows, row_stride = merged[-2][0], merged[-2][1]
        else:
            n_rows, row_stride = 1, row_len
        outer = [(length, stride, 0) for length, stride, _ in merged[:-2]]
        return n_rows, row_len, row_stride, base, outer

    def __repr__(self):
        return (
            f"BlockPlan(full_shape={self.full_shape}, shape={self.shape}, "
            f"starts={self.starts}, lengths={self.lengths})"
        )


def plan_block(full_shape, index):
    """Validate `index` against `full_shape` and return its :class:`BlockPlan`.

    `index` is an int, a step-1 slice or a tuple of them (numpy basic indexing
    without steps, ellipsis or new axes). Fewer entries than dims leave the
    trailing dims whole; negative ints and slice bounds count from the end and
    slice bounds are clipped, as in numpy. Anything else is a TypeError (wrong
    type) or ValueError (integer out of range, step != 1, too many entries).
    """
    full_shape = check_shape(full_shape)
    if not isinstance(index, tuple):
        index = (index,)
    if len(index) > len(full_shape):
        raise ValueError(
            f"Argument `index` has {len(index)} entries but the shape has only "
            f"{len(full_shape)} dimensions. Received: index={index!r}, "
            f"shape={full_shape!r}"
        )
    starts, lengths, out_shape, key = [], [], [], []
    for d, dim in enumerate(full_shape):
        item = index[d] if d < len(index) else slice(None)
        if isinstance(item, slice):
            for what in ("start", "stop", "step"):
                value = getattr(item, what)
                if value is not None:
                    _index_int(value, f"slice {what}")
            if item.step is not None and _index_int(item.step, "slice step") != 1:
                raise ValueError(
                    f"Argument `index` must use step-1 slices. "
                    f"Received: index={index!r}"
                )
            start, stop, _ = item.indices(dim)
            length = max(0, stop - start)
            starts.append(start if length else 0)
            lengths.append(length)
            out_shape.append(length)
            key.append(slice(start, start + length))
        else:
            i = _index_int(item, f"index[{d}]")
            if not -dim <= i < dim:
                raise ValueError(
                    f"Argument `index` is out of bounds: index {i} for dimension {d} "
                    f"of size {dim}. Received: index={index!r}, shape={full_shape!r}"
                )
            i = i + dim if i < 0 else i
            starts.append(i)
            lengths.append(1)
            key.append(i)
    return BlockPlan(
        full_shape, tuple(out_shape), tuple(starts), tuple(lengths), tuple(key)
    )


def resolve_initializer(initializer, name="initializer"):
    """Return an initializer object with ``block()``: an instance as given, or anything
    ``densekit.initializers.get`` accepts (a name, a config dict, a class).

    The one place densekit.io, densekit.dask and densekit.torch turn their
    `initializer` argument into an object.
    """
    if callable(initializer) and hasattr(initializer, "block") and not isinstance(
        initializer, type
    ):
        return initializer
    from densekit import initializers

    resolved = initializers.get(initializer)
    if resolved is None or not hasattr(resolved, "block"):
        raise TypeError(
            f"Argument `{name}` must be a densekit initializer (an instance, a name or a "
            f"config dict), with a `block()` method. Received: {name}={initializer!r}"
        )
    return resolved
