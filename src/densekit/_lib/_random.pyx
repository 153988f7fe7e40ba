"""Stateless parallel sampling kernels on Philox4x32-10 (private; callers validate).

Counter layout
--------------
Every random word comes from one Philox4x32-10 block, ``philox4x32_10(counter, key)``:

- key = the 64-bit seed: ``key[0]`` = low 32 bits, ``key[1]`` = high 32 bits;
- ``counter[0]``, ``counter[1]`` = low and high 32 bits of the block index;
- ``counter[2]`` = the attempt number (0, then 1, 2, ... for rejected truncated normals);
- ``counter[3]`` = the stream tag ``kind | 0x100 * is_float64`` (UNIFORM 0, NORMAL 1,
  TRUNCATED_NORMAL 2), so the kinds and precisions never share blocks.

The float32 stream (also used for float16 and bfloat16 outputs) takes element ``i`` from block
``i // 4``, lane ``i % 4``; the float64 stream from block ``i // 2``, lane ``i % 2`` (lane ``l``
is the 64-bit word ``w[2l] | w[2l+1] << 32``).

Bits to floats
--------------
- uniform float32 ``u = (w >> 8) * 2**-24`` in [0, 1); float64 ``u = (w64 >> 11) * 2**-53``.
  The result ``a + (b - a) * u`` is computed in the stream's precision and clamped to the
  largest value below ``b``, so it is always in [a, b).
- normal: Box-Muller on one block. float32: lanes 0 and 1 come from words (0, 1), lanes 2 and 3
  from words (2, 3): ``u1 = ((w0 >> 8) + 1) * 2**-24`` in (0, 1] (log never sees 0),
  ``u2 = (w1 >> 8) * 2**-24``, ``r = sqrt(-2 log u1)``, lane 0 = ``r cos(2 pi u2)``,
  lane 1 = ``r sin(2 pi u2)`` (lanes 2, 3 likewise). float64: one pair per block,
  ``u1 = ((lane0 >> 11) + 1) * 2**-53``, ``u2 = (lane1 >> 11) * 2**-53``, lane 0 = ``r cos``,
  lane 1 = ``r sin``. log is ``e ln 2 + 2 atanh((f - 1) / (f + 1))`` with ``f`` in
  [sqrt(1/2), sqrt(2)) and the atanh series (to s**9 in float32, s**21 in float64); sincos of
  ``2 pi u`` reduces to an octant and uses Taylor polynomials on [0, pi/4] (float32 abs error
  ~1e-7, float64 ~1e-16), every operation in a fixed order, in the stream's precision (the
  exact formulas are in src/sampling_internal.h). The output is ``a + b * z``.
- truncated normal: ``z`` as above at attempt 0; while ``|z| > 2`` the element is recomputed from
  the block of the same index at attempt 1, 2, ... (rejection, never clipping, no limit).
- float16 / bfloat16 outputs: the float32 value rounded to nearest even as it is written.

Determinism
-----------
Element ``i`` depends only on (seed, kind, precision, i): the bytes are identical for every
``n_threads``, every chunking, every ``(start, row_stride)`` decomposition of a tensor into
blocks, and on every CPU. The float32 stream has three paths chosen at run time from
``dk_simd_level()`` (AVX-512, AVX2, portable C that compilers auto-vectorize); the float64
stream is one C algorithm whose vector width the compiler picks. All of them evaluate the same
IEEE operations in the same order (no FMA contraction, no fast-math, no libm), so they give the
same bits; the tests compare every path this CPU runs with the portable one, and re-derive the
streams in numpy from the layout above.

Rejection is per element (a rejected element never shifts another), so a truncated-normal block
needs no knowledge of the rest of the tensor. Note for 16-bit outputs: rounding the float32
value to nearest can reach ``b`` for a uniform draw just below it; the [a, b) guarantee is the
float32 and float64 streams'.
"""

from cython.parallel cimport prange
from libc.stdint cimport int64_t, uint16_t, uint32_t, uint64_t

import numpy as np

cdef extern from "dk_simd.h" nogil:
    int dk_simd_level()
    const char *dk_simd_name(int level)

from densekit._lib._philox cimport dk_philox4x32_ctr_t, dk_philox4x32_key_t, dk_philox4x32_10

cdef extern from "sampling.h" nogil:
    int DK_OUT_F32, DK_OUT_F64, DK_OUT_F16, DK_OUT_BF16
    int64_t DK_CHUNK
    void dk_fill_run(int kind, int out_type, uint64_t seed, int64_t i0, int64_t n, void *out,
                     double a, double b, int simd_level)
    void dk_fill_constant_run(int out_type, int64_t n, void *out, double value)
    int dk_sampling_level(int level)

# UNIFORM, NORMAL, TRUNCATED_NORMAL: the sampler kinds, a cpdef enum in _random.pxd.

# The path the samplers take: the CPU's level, lowered only by _force_simd_level (tests).
cdef int _hw_level = dk_simd_level()
cdef int _level = _hw_level


def simd_level():
    """Name of the SIMD path the samplers use: 'avx512', 'avx2' or 'baseline'."""
    return dk_simd_name(_used_level(_level)).decode()


cdef int _used_level(int level) noexcept nogil:
    return dk_sampling_level(level)


def _force_simd_level(level):
    """Set the path (0 baseline, 2 avx2, 3 avx512, None: the CPU's); returns the previous one.

    For tests: every path must give the same bits. Levels above the CPU's are refused.
    """
    global _level
    previous = _level
    if level is None:
        level = _hw_level
    level = int(level)
    if level > _hw_level or level < 0:
        raise ValueError(
            f"Argument `level` must be between 0 and {_hw_level} on this CPU. "
            f"Received: level={level}"
        )
    _level = level
    return previous


cdef int _out_type(out, int half) except -1:
    dt = out.dtype
    if half == 0:
        if dt == np.float32:
            return DK_OUT_F32
        if dt == np.float64:
            return DK_OUT_F64
    elif dt == np.uint16:
        if half == 1:
            return DK_OUT_F16
        if half == 2:
            return DK_OUT_BF16
    raise TypeError(f"unsupported output dtype {dt} with half={half}")


cdef char *_data(out, int64_t *n_rows, int64_t *row_len) except? NULL:
    """Pointer to a 2-D C-contiguous array's data (NULL when empty)."""
    cdef uint16_t[:, ::1] v16
    cdef float[:, ::1] v32
    cdef double[:, ::1] v64
    n_rows[0] = out.shape[0]
    row_len[0] = out.shape[1]
    if n_rows[0] == 0 or row_len[0] == 0:
        return NULL
    if out.dtype == np.float64:
        v64 = out
        return <char *> &v64[0, 0]
    if out.dtype == np.float32:
        v32 = out
        return <char *> &v32[0, 0]
    v16 = out
    return <char *> &v16[0, 0]


def fill(int kind, out, uint64_t seed, int64_t start, int64_t row_stride,
         double a, double b, int n_threads, int half=0):
    """out[r, c] := X(kind, seed, start + r * row_stride + c), in parallel (see module doc)."""
    cdef int out_type = _out_type(out, half)
    cdef int64_t n_rows, row_len
    cdef char *data = _data(out, &n_rows, &row_len)
    if data == NULL:
        return
    cdef int64_t esize = out.dtype.itemsize
    cdef int level = _used_level(_level)
    if row_stride == row_len or n_rows == 1:
        # One contiguous run of the stream: split it into chunks whatever its shape.
        row_len = n_rows * row_len
        n_rows = 1
    cdef int64_t per_row = (row_len + DK_CHUNK - 1) // DK_CHUNK
    cdef int64_t n_work = n_rows * per_row
    cdef int64_t w
    with nogil:
        if n_rows * row_len <= DK_CHUNK or n_threads == 1:
            # Small blocks (block() calls) skip the thread team's start-up (tens of us).
            for w in range(n_work):
                _fill_item(w, per_row, row_len, row_stride, start, kind, out_type, seed,
                           data, esize, a, b, level)
        else:
            for w in prange(n_work, schedule='static', num_threads=n_threads):
                _fill_item(w, per_row, row_len, row_stride, start, kind, out_type, seed,
                           data, esize, a, b, level)


cdef inline void _fill_item(int64_t w, int64_t per_row, int64_t row_len, int64_t row_stride,
                            int64_t start, int kind, int out_type, uint64_t seed, char *data,
                            int64_t esize, double a, double b, int level) noexcept nogil:
    """Work item w: chunk (w % per_row) of row (w // per_row)."""
    cdef int64_t r = w // per_row
    cdef int64_t c0 = (w - r * per_row) * DK_CHUNK
    cdef int64_t n = row_len - c0
    if n > DK_CHUNK:
        n = DK_CHUNK
    dk_fill_run(kind, out_type, seed, start + r * row_stride + c0, n,
                data + (r * row_len + c0) * esize, a, b, level)


def fill_constant(out, double value, int n_threads, int half=0):
    """out[...] := value (float32 value rounded for 16-bit outputs), first touch in parallel."""
    cdef int out_type = _out_type(out, half)
    cdef int64_t n_rows, row_len
    cdef char *data = _data(out, &n_rows, &row_len)
    if data == NULL:
        return
    cdef int64_t esize = out.dtype.itemsize
    cdef int64_t total = n_rows * row_len
    cdef int64_t n_work = (total + DK_CHUNK - 1) // DK_CHUNK
    cdef int64_t w, n
    with nogil:
        if total <= DK_CHUNK or n_threads == 1:
            dk_fill_constant_run(out_type, total, data, value)
        else:
            for w in prange(n_work, schedule='static', num_threads=n_threads):
                n = total - w * DK_CHUNK
                if n > DK_CHUNK:
                    n = DK_CHUNK
                dk_fill_constant_run(out_type, n, data + w * DK_CHUNK * esize, value)


def philox4x32_10(counter, key):
    """The Philox4x32-10 block of a 4-word counter and 2-word key (known-answer tests)."""
    cdef dk_philox4x32_ctr_t c
    cdef dk_philox4x32_key_t k
    cdef int j
    counter = [int(x) for x in counter]
    key = [int(x) for x in key]
    if len(counter) != 4 or len(key) != 2:
        raise ValueError("philox4x32_10 needs 4 counter words and 2 key words")
    for j in range(4):
        c.v[j] = counter[j]
    for j in range(2):
        k.v[j] = key[j]
    c = dk_philox4x32_10(c, k)
    return (c.v[0], c.v[1], c.v[2], c.v[3])
