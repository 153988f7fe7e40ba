"""The `Initializer` base class and the call machinery shared by densekit's own ones."""

import numpy as np

from densekit._lib import _random
from densekit._threads import effective_n_threads
from densekit._validation import check_out, check_shape
from densekit.initializers._layout import (
    half_code,
    kernel_view,
    plan_block,
    resolve_dtype,
    size_of,
)

__all__ = ["Initializer"]


class Initializer:
    """Base class of all initializers (the Keras 3 `Initializer` interface).

    An initializer is called as ``init(shape, dtype=None)`` and returns a new
    numpy array. Subclasses written for Keras, which implement only
    ``__call__(self, shape, dtype=None)`` (and ``get_config`` when they have
    arguments), work unchanged; their :meth:`block` falls back to computing the
    whole tensor and indexing it.

    densekit's own initializers also take ``out=`` (fill an existing array in
    place) and ``n_threads=``, and their :meth:`block` computes only the block.

    Examples
    --------
    >>> import numpy as np
    >>> from densekit.initializers import Initializer
    >>> class Halves(Initializer):
    ...     def __call__(self, shape, dtype=None):
    ...         return np.full(shape, 0.5, dtype=dtype or "float32")
    >>> Halves()((2, 2)).sum()
    np.float32(2.0)
    >>> Halves().block((4, 4), (slice(0, 1),)).shape
    (1, 4)
    """

    def __call__(self, shape, dtype=None):
        """Return a new array of `shape` and `dtype` (subclasses implement this)."""
        raise NotImplementedError(
            "Initializer subclasses must implement the `__call__()` method."
        )

    def block(self, shape, index, dtype=None, *, out=None, n_threads=None):
        """Return ``self(shape, dtype)[index]``.

        This generic version computes the whole tensor first (memory and time
        proportional to `shape`); densekit's initializers override it with one
        that computes only the block. See :meth:`RandomUniform.block
        <densekit.initializers.RandomUniform.block>` for the arguments.
        """
        full = check_shape(shape)
        plan = plan_block(full, index)
        whole = np.asarray(self(full, dtype))
        value = whole[plan.key]
        if out is None:
            return np.array(value, copy=True)
        check_out(out, plan.shape, value.dtype)
        np.copyto(out, value)
        return out

    def get_config(self):
        """Return the constructor arguments as a JSON-serializable dict."""
        return {}

    @classmethod
    def from_config(cls, config):
        """Build an initializer from the output of :meth:`get_config`."""
        return cls(**config)

    def clone(self):
        """A new initializer with the same configuration.

        An unseeded (``seed=None``) initializer's clone draws a new seed, as in Keras.
        """
        return self.__class__.from_config(self.get_config())

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class _KernelInitializer(Initializer):
    """An initializer whose values are written straight into the output.

    Subclasses implement ``_write(out, plan, shape, n_threads)``: fill `out` with
    the whole tensor of `shape` (``plan is None``) or with the block described
    by `plan` (a :class:`~densekit.initializers._layout.BlockPlan`); `out` is
    validated, C-contiguous, non-empty and of the output dtype. They may also
    implement ``_check_call_shape(shape)`` (rank rules) and set
    ``_allow_integer`` (integer dtypes accepted), ``_new_output`` and
    ``_fresh_is_filled``.
    """

    _allow_integer = False
    # True when _new_output already holds the values (Zeros: calloc'ed zeros).
    _fresh_is_filled = False

    def _check_call_shape(self, shape):
        pass

    def _new_output(self, shape, dtype):
        # np.empty: numpy madvises huge pages and the kernel does the first touch
        # in parallel, each thread faulting in its own pages.
        return np.empty(shape, dtype=dtype)

    def _resolve(self, dtype, out):
        if dtype is None and isinstance(out, np.ndarray):
            return resolve_dtype(out.dtype, allow_integer=self._allow_integer, name="out")
        return resolve_dtype(dtype, allow_integer=self._allow_integer)

    def __call__(self, shape=None, dtype=None, *, out=None, n_threads=None):
        """Return a new array of `shape` filled by this initializer.

        Parameters
        ----------
        shape : int or tuple of int or list of int, optional
            Shape of the tensor; ``()`` gives a 0-d array and a zero-sized
            dimension an empty one. May be omitted (or None) when `out` is given.
        dtype : dtype, optional
            float32 (the default), float64, float16 or 'bfloat16' (ml_dtypes).
            16-bit outputs are the float32 values rounded to nearest even.
            With `out` given, None means ``out.dtype``.
        out : ndarray, optional
            A writable C-contiguous array of this `shape` and `dtype` to fill in
            place and return. It is validated fully before anything is written.
        n_threads : int, optional
            Threads to use (see :func:`densekit.get_num_threads`). The values do
            not depend on it.

        Returns
        -------
        ndarray of shape `shape` and dtype `dtype`
            A new array, or `out`.

        Raises
        ------
        TypeError
            Non-integer dims, an unsupported dtype, or `out` of the wrong type or dtype.
        ValueError
            Negative dims, or `out` of the wrong shape, read-only or not C-contiguous.
        """
        if shape is None:
            if out is None:
                raise TypeError(
                    "Argument `shape` is required unless `out` is given. Received: shape=None"
                )
            shape = getattr(out, "shape", None)
            if shape is None:
                check_out(out, (), np.float32)  # raises the TypeError for a non-array
        shape = check_shape(shape)
        size_of(shape)
        return self._fill(shape, None, shape, dtype, out, n_threads)

    def block(self, shape, index, dtype=None, *, out=None, n_threads=None):
        """Return exactly ``self(shape, dtype)[index]``, computing only that block.

        Time and memory are proportional to the block, not to `shape` (except for
        :class:`Orthogonal`, whose QR needs the whole matrix). Fans come from the
        full `shape`. This lets a tensor bigger than RAM, or sharded across
        machines, be initialized piece by piece with the values of the whole.

        Parameters
        ----------
        shape : int or tuple of int or list of int
            Shape of the whole tensor.
        index : int, slice or tuple of ints and slices
            numpy basic indexing with step-1 slices: negative ints and bounds
            count from the end, bounds are clipped, and missing trailing entries
            mean whole dimensions. Integer entries drop their dimension.
        dtype : dtype, optional
            As in ``__call__``.
        out : ndarray, optional
            A writable C-contiguous array of the block's shape and `dtype`.
        n_threads : int, optional
            Threads to use; the values do not depend on it.

        Returns
        -------
        ndarray
            Of shape ``self(shape)[index].shape``: a new array, or `out`.

        Raises
        ------
        TypeError
            A bad `shape`, `dtype` or `out` (as in ``__call__``), or an index
            entry that is not an int or a slice of ints.
        ValueError
            Negative dims, an integer index out of range, a slice step other
            than 1, more index entries than dims, or a bad `out`.

        Examples
        --------
        >>> from densekit.initializers import GlorotUniform
        >>> init = GlorotUniform(seed=0)
        >>> part = init.block((1000, 1000), (slice(10, 14), slice(0, 3)))
        >>> bool((part == init((1000, 1000))[10:14, 0:3]).all())
        True
        """
        full = check_shape(shape)
        size_of(full)
        plan = plan_block(full, index)
        return self._fill(full, plan, plan.shape, dtype, out, n_threads)

    def _fill(self, full, plan, shape, dtype, out, n_threads):
        """The validated path of __call__ and block: the tensor of `full` shape,
        or `plan`'s block of it, whose shape is `shape`. Everything is checked
        before anything is allocated or written."""
        dtype = self._resolve(dtype, out)
        if out is None:
            self._check_call_shape(full)
            n_threads = effective_n_threads(n_threads)
            out = self._new_output(shape, dtype)
            if self._fresh_is_filled:
                return out
        else:
            check_out(out, shape, dtype)
            self._check_call_shape(full)
            n_threads = effective_n_threads(n_threads)
        if out.size:
            self._write(out, plan, full, n_threads)
        return out

    def _write(self, out, plan, shape, n_threads):  # pragma: no cover - abstract
        raise NotImplementedError


def plain_number(value):
    """A numpy scalar as the Python number it holds (so configs are JSON), else `value`."""
    return value.item() if isinstance(value, np.generic) else value


def fill_stream(out, plan, kind, seed, a, b, n_threads):
    """Write the sampler stream `kind` (whole tensor, or `plan`'s block) into `out`."""
    if out.dtype.itemsize == 2:  # 16-bit floats travel as their bits
        half = half_code(out.dtype)
        out = kernel_view(out)
    else:
        half = 0
    if plan is None:
        n = out.size
        _random.fill(kind, out.reshape(1, n), seed, 0, n, a, b, n_threads, half)
        return
    flat = out.reshape(-1)
    n_rows, row_len, row_stride, starts = plan.runs()
    step = n_rows * row_len
    pos = 0
    for start in starts:
        rows = flat[pos : pos + step].reshape(n_rows, row_len)
        _random.fill(kind, rows, seed, start, row_stride, a, b, n_threads, half)
        pos += step


def fill_constant(out, value, n_threads):
    """Fill `out` with the float `value` on `n_threads` (parallel first touch).

    16-bit outputs get the float32 value rounded to nearest even, as the samplers
    write them: passing the float32-rounded value makes the kernel's single
    rounding equal that double rounding.
    """
    half = half_code(out.dtype)
    if half or out.dtype == np.float32:
        value = float(np.float32(value))
    flat = kernel_view(out).reshape(-1)
    _random.fill_constant(flat.reshape(1, flat.shape[0]), value, n_threads, half)
