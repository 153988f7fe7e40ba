"""Initialize tensors larger than RAM straight into a file, chunk by chunk.

:func:`initialize_file` writes a ``.npy`` file (numpy's own format), an HDF5
dataset (with h5py) or a one-tensor ``.safetensors`` file through the initializer's
``block()``: blocks are generated on several threads into a few reusable buffers while
the ones before them are written out, so the anonymous memory in use stays near
``2 * chunk_bytes`` whatever the size of the file, and the file holds exactly
``initializer(shape)``, bit for bit.
"""

import contextlib
import errno
import itertools
import json
import math
import operator
import os
import re
import shutil
import socket
import tempfile
import struct
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from densekit._progress import byte_progress
from densekit._threads import effective_n_threads
from densekit._validation import check_shape
from densekit.initializers._layout import resolve_dtype, resolve_initializer

__all__ = ["DEFAULT_CHUNK_BYTES", "DEFAULT_H5_DATASET", "initialize_file"]

#: Memory for the blocks in flight (16 MiB): ``n_threads + 2`` buffers share twice this
#: (8 MiB blocks on 2 threads). Blocks of 4-8 MiB wrote 1 GiB 0.36-0.44 s on a 2-core VM,
#: where 16 MiB and larger blocks often took 0.6-1.8 s (as did np.save's one 1 GiB write).
DEFAULT_CHUNK_BYTES = 16 * 2**20

#: Dataset name used when an HDF5 path names no dataset (``weights.h5``).
DEFAULT_H5_DATASET = "data"

# HDF5 chunks of about 1 MiB: h5py's own guess is in that range and HDF5's default
# chunk cache is 1 MiB; our write steps are whole multiples of these chunks.
_H5_CHUNK_BYTES = 2**20

_NPY_SUFFIXES = (".npy",)
_ST_SUFFIXES = (".safetensors",)
_ST_PATH = re.compile(r"^(?P<file>.+\.safetensors):(?P<dataset>[^:]*)$", re.IGNORECASE)
_H5_SUFFIXES = (".h5", ".hdf5")
_H5_PATH = re.compile(r"^(?P<file>.+\.(?:h5|hdf5)):(?P<dataset>[^:]*)$", re.IGNORECASE)
# Bytes of HDF5 metadata (superblock, object headers, chunk index) budgeted
# beyond the data and the file's own estimate when space is reserved.
_H5_METADATA_SLACK = 2**20
# Per-chunk budget of the chunk index (a v1 B-tree entry with its share of a node).
_H5_INDEX_BYTES_PER_CHUNK = 128
_PARTIAL_SUFFIX = ".partial"
_PARTIAL_OWNER = re.compile(r"^(?P<pid>[0-9]+)@(?P<host>[A-Za-z0-9-]*)\.[A-Za-z0-9_]+$")


# --------------------------------------------------------------------------------------
# Block plans
# --------------------------------------------------------------------------------------
def _split_axis(shape, per_chunk):
    """First axis whose trailing slab (one index on it, all of the later axes) holds at
    most `per_chunk` elements (the last axis if none does)."""
    k = 0
    while k < len(shape) - 1 and math.prod(shape[k + 1:]) > per_chunk:
        k += 1
    return k


def _block_plan(shape, itemsize, chunk_bytes, align_rows=1):
    """Split a C-ordered tensor into contiguous blocks of at most ``chunk_bytes``.

    Each block is ``(index, start, count, block_shape)``: ``index`` holds ints on the
    leading axes, one step-1 slice on axis ``k`` and full slices after it, so the
    block is one contiguous run of ``count`` elements from flat position ``start``.
    ``k`` is the first axis whose trailing slab fits in a chunk; along it, blocks hold
    as many slabs as fit, rounded down to a multiple of ``align_rows`` (HDF5 chunks).
    """
    ndim = len(shape)
    total = math.prod(shape)
    if total == 0:
        return
    if ndim == 0:
        yield (), 0, 1, ()
        return
    per_chunk = max(1, chunk_bytes // itemsize)
    k = _split_axis(shape, per_chunk)
    slab = math.prod(shape[k + 1:])
    rows = max(1, per_chunk // slab)
    if rows >= align_rows:
        rows -= rows % align_rows
    lead = shape[:k]
    trailing = shape[k + 1:]
    for lead_index in np.ndindex(*lead):
        base = 0
        for i, d in zip(lead_index, lead):
            base = base * d + i
        base *= shape[k] * slab
        for r0 in range(0, shape[k], rows):
            r1 = min(r0 + rows, shape[k])
            index = tuple(int(i) for i in lead_index) + (slice(r0, r1),) + tuple(
                slice(None) for _ in trailing
            )
            yield index, base + r0 * slab, (r1 - r0) * slab, (r1 - r0,) + tuple(trailing)


def _h5_chunks(shape, itemsize):
    """HDF5 chunk shape of about 1 MiB (full trailing axes, a run on one axis, then 1s),
    and that axis; None for an empty or 0-d dataset (stored contiguous)."""
    if not shape or math.prod(shape) == 0:
        return None, None
    per_chunk = max(1, _H5_CHUNK_BYTES // itemsize)
    k = _split_axis(shape, per_chunk)
    rows = max(1, min(shape[k], per_chunk // math.prod(shape[k + 1:])))
    return (1,) * k + (rows,) + tuple(shape[k + 1:]), k


# --------------------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------------------
def _parse_path(path):
    """Return (file path, format, dataset name or None)."""
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(path, str) or not path:
        raise TypeError(
            f"Argument `path` must be a non-empty str or os.PathLike. Received: path={path!r}"
        )
    match = _H5_PATH.match(path)
    if match:
        dataset = match.group("dataset").strip("/")
        if not dataset:
            raise ValueError(
                f"Argument `path` names an empty HDF5 dataset. Use 'file.h5:/name' or just "
                f"'file.h5' (dataset {DEFAULT_H5_DATASET!r}). Received: path={path!r}"
            )
        return match.group("file"), "h5", dataset
    match = _ST_PATH.match(path)
    if match:
        name = match.group("dataset")
        if not name:
            raise ValueError(
                f"Argument `path` names an empty safetensors tensor. Use 'file.safetensors:name' "
                f"or just 'file.safetensors' (tensor {DEFAULT_H5_DATASET!r}). Received: path={path!r}"
            )
        return match.group("file"), "safetensors", name
    lower = path.lower()
    if lower.endswith(_NPY_SUFFIXES):
        return path, "npy", None
    if lower.endswith(_ST_SUFFIXES):
        return path, "safetensors", DEFAULT_H5_DATASET
    if lower.endswith(_H5_SUFFIXES):
        return path, "h5", DEFAULT_H5_DATASET
    raise ValueError(
        "Argument `path` must end in .npy, in .h5/.hdf5 (optionally followed by "
        f"':/dataset') for HDF5, or in .safetensors (optionally followed by ':name'). "
        f"Received: path={path!r}"
    )


def _check_target(file_path, overwrite):
    """Check the target before any work; return (real directory, final path).

    The directory is the parent *as the OS resolves it* (``d/missing/..`` does not
    exist even though ``d`` does), and the final path lies in it, so the check, the
    temporary file and the rename all agree.
    """
    parent = os.path.dirname(file_path) or os.curdir
    if not os.path.isdir(parent):  # resolved by the OS: '..' after a symlink or a missing name
        raise FileNotFoundError(
            errno.ENOENT, f"Cannot write {file_path!r}: directory {parent!r} does not exist"
        )
    directory = os.path.realpath(parent)
    target = os.path.join(directory, os.path.basename(file_path))
    if os.path.isdir(target):
        raise IsADirectoryError(
            errno.EISDIR, f"Cannot write {file_path!r}: it is a directory"
        )
    if os.path.lexists(target) and not overwrite:
        raise FileExistsError(
            errno.EEXIST,
            f"{file_path!r} already exists (pass overwrite=True, or --overwrite, to replace it)",
        )
    return directory, target


def _free_bytes(directory):
    """Free bytes for unprivileged writers, or None when the file system does not say
    (pseudo file systems such as /proc report a size of 0: that is not a full disk)."""
    try:
        usage = shutil.disk_usage(directory)
    except OSError:
        return None
    if usage.total <= 0:
        return None
    return usage.free


# --------------------------------------------------------------------------------------
# Temporary ("partial") files: .<name>.<pid>@<host>.<random>.partial beside the target
# --------------------------------------------------------------------------------------
def _host_tag():
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:32]


def _pid_alive(pid):
    if pid == os.getpid():
        return True  # another thread of this process may be writing the same target
    if os.name == "nt":
        return True  # os.kill(pid, 0) would terminate it there: never clean
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: alive, owned by someone else
        return True
    return True


def _remove_stale_partials(directory, base):
    """Remove the partial files of `base` left by dead processes of this host
    (SIGKILL, power loss); those of live processes and other hosts are kept."""
    prefix = f".{base}."
    host = _host_tag()
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if not (name.startswith(prefix) and name.endswith(_PARTIAL_SUFFIX)):
            continue
        owner = _PARTIAL_OWNER.match(name[len(prefix):-len(_PARTIAL_SUFFIX)])
        if owner is None or owner.group("host") != host or _pid_alive(int(owner.group("pid"))):
            continue
        try:
            os.unlink(os.path.join(directory, name))
        except OSError:
            pass


def _create_partial(directory, base, file_path):
    """Create the empty temporary file, named after its owner, with the mode open()
    would give; a failure names the target (read-only file system, no permission)."""
    try:
        fd, tmp_path = tempfile.mkstemp(
            prefix=f".{base}.{os.getpid()}@{_host_tag()}.", suffix=_PARTIAL_SUFFIX,
            dir=directory,
        )
    except OSError as exc:
        raise type(exc)(
            exc.errno,
            f"Cannot write {file_path!r}: cannot create a file in {directory!r} "
            f"({exc.strerror or exc})",
        ) from exc
    try:
        # mkstemp makes the file private (0600); give it the mode open() would (umask).
        os.fchmod(fd, 0o666 & ~_umask())
    finally:
        os.close(fd)
    return tmp_path


def _human(nbytes):
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= size:
            return f"{nbytes / size:.2f} {unit}"
    return f"{nbytes} bytes"


def _no_space(file_path, needed, directory, cause=None):
    free = None
    try:
        free = shutil.disk_usage(directory).free
    except OSError:
        pass
    have = f"{_human(free)} free" if free is not None else "free space unknown"
    return OSError(
        errno.ENOSPC,
        f"No space left on device writing {file_path!r}: it needs {_human(needed)} "
        f"({have} in {directory!r}); nothing was left behind"
        + (f" ({cause})" if cause else ""),
    )


# --------------------------------------------------------------------------------------
# Writers: each takes (block start, count, index, filled buffer) and stores it
# --------------------------------------------------------------------------------------
def _umask():
    mask = os.umask(0o022)  # the only way to read it is to set it: put it back at once
    os.umask(mask)
    return mask


def _reserve(fd, nbytes):
    """Reserve the file's blocks now: a full disk fails at once (ENOSPC), not after
    minutes of work, and later writes into the reserved range need no new space."""
    if nbytes <= 0 or not hasattr(os, "posix_fallocate"):
        return
    try:
        os.posix_fallocate(fd, 0, nbytes)
    except OSError as exc:
        if exc.errno in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
            os.ftruncate(fd, nbytes)  # no reservation on this file system: size only
        else:
            raise


_FALLOC_FL_KEEP_SIZE = 1
_libc = None


def _fallocate_keep_size(fd, nbytes):
    """Reserve `nbytes` of blocks for `fd` without changing its size (Linux
    ``fallocate(FALLOC_FL_KEEP_SIZE)``). HDF5 must keep seeing its own end of file,
    which ``posix_fallocate`` would move. OSError on failure (ENOSPC, EOPNOTSUPP)."""
    global _libc
    import ctypes

    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    fallocate = getattr(_libc, "fallocate", None)
    if fallocate is None:
        raise OSError(errno.ENOSYS, "fallocate is not available")
    fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    fallocate.restype = ctypes.c_int
    if fallocate(fd, _FALLOC_FL_KEEP_SIZE, 0, nbytes) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def _release_past_eof(fd):
    """Free blocks reserved beyond the end of file. Truncating to the same size is a
    no-op on some file systems (tmpfs), so grow by one byte and shrink back."""
    size = os.fstat(fd).st_size
    os.ftruncate(fd, size + 1)
    os.ftruncate(fd, size)


@contextlib.contextmanager
def _replacing(path, overwrite):
    """Write a whole new file for `path` without ever exposing a partial one.

    Yields ``(tmp, scratch)``: the caller writes the file to `tmp` (created in
    the target's directory); when the block ends normally `tmp` is renamed onto
    the target (``os.replace``), on any error it is removed (an h5py write
    failure is re-raised as an OSError). ``scratch()`` creates more temporary
    files beside it, removed when the block ends either way.
    """
    directory, target = _check_target(path, overwrite=overwrite)
    base = os.path.basename(target)
    _remove_stale_partials(directory, base)
    tmp = _create_partial(directory, base, path)
    extra = []

    def scratch():
        extra.append(_create_partial(directory, base, path))
        return extra[-1]

    try:
        yield tmp, scratch
        os.replace(tmp, target)
    except BaseException as exc:
        _unlink_missing_ok(tmp)
        if isinstance(exc, RuntimeError) and "errno" in str(exc):
            raise _h5_error(exc) from exc  # h5py reports a failed write as RuntimeError
        raise
    finally:
        for name in extra:
            _unlink_missing_ok(name)


def _unlink_missing_ok(name):
    try:
        os.unlink(name)
    except FileNotFoundError:
        pass


def _h5_error(exc):
    """An h5py failure (a RuntimeError or OSError quoting HDF5's errno) as an OSError."""
    if isinstance(exc, OSError) and exc.errno:
        return exc
    text = str(exc)
    found = re.search(r"errno = (\d+)", text)
    code = int(found.group(1)) if found else errno.EIO
    return OSError(code, f"{os.strerror(code)} (HDF5: {text.splitlines()[0] if text else exc!r})")


def _h5_estimate(shape, itemsize):
    """Bytes an HDF5 file holding one dataset of `shape` needs, metadata included
    (edge chunks are stored whole, so the data take whole chunks)."""
    chunks, _ = _h5_chunks(shape, itemsize)
    if chunks is None:
        return math.prod(shape) * itemsize + _H5_METADATA_SLACK
    n_chunks = math.prod(-(-d // c) for d, c in zip(shape, chunks))
    return (n_chunks * (math.prod(chunks) * itemsize + _H5_INDEX_BYTES_PER_CHUNK)
            + _H5_METADATA_SLACK)


def _pwrite_all(fd, view, offset):
    while view:
        written = os.pwrite(fd, view, offset)
        if written <= 0:  # pragma: no cover - pwrite raises rather than returning 0
            raise OSError(errno.EIO, "pwrite wrote nothing")
        view = view[written:]
        offset += written


class _NpyWriter:
    def __init__(self, tmp_path, shape, dtype):
        header = {
            "descr": np.lib.format.dtype_to_descr(dtype),
            "fortran_order": False,
            "shape": tuple(shape),
        }
        self._fd = os.open(tmp_path, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(os.dup(self._fd), "wb") as f:
            try:
                np.lib.format.write_array_header_1_0(f, header)
            except ValueError:  # header over 64 KiB: many dimensions
                f.seek(0)
                np.lib.format.write_array_header_2_0(f, header)
            self._data_offset = f.tell()
        self._itemsize = dtype.itemsize
        self.nbytes = self._data_offset + math.prod(shape) * dtype.itemsize

    def preallocate(self):
        _reserve(self._fd, self.nbytes)

    def write(self, start, count, index, buf):
        _pwrite_all(self._fd, memoryview(buf.reshape(-1).view(np.uint8)),
                    self._data_offset + start * self._itemsize)

    def close(self, sync):
        fd, self._fd = self._fd, -1
        if fd >= 0:
            try:
                if sync:
                    os.fsync(fd)
            finally:
                os.close(fd)


class _H5Writer:
    def __init__(self, tmp_path, shape, dtype, dataset):
        try:
            import h5py
        except ImportError:
            raise ImportError(
                "Writing HDF5 needs h5py, a dependency of densekit: reinstall densekit, or "
                "pip install h5py (pip install 'densekit[h5]' works too)"
            ) from None
        self._h5py = h5py
        self._path = tmp_path
        self._file = h5py.File(tmp_path, "w")
        if dtype.name == "bfloat16":
            # A real HDF5 float type (1 sign, 8 exponent, 7 mantissa bits, bias 127):
            # HDF5 tools see floats and h5py reads it back as float32, exactly.
            tid = h5py.h5t.IEEE_F32LE.copy()
            tid.set_fields(15, 7, 8, 0, 7)
            tid.set_ebias(127)
            tid.set_size(2)
            self._mem_view = np.uint16
        else:
            tid = h5py.h5t.py_create(dtype)
            self._mem_view = None
        self._tid = tid
        chunks, self._chunk_axis = _h5_chunks(shape, dtype.itemsize)
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        if chunks is not None:
            dcpl.set_chunk(chunks)
            self._chunk_rows = chunks[self._chunk_axis]
        dcpl.set_fill_time(h5py.h5d.FILL_TIME_NEVER)
        # Allocate every chunk's file space (not its bytes: nothing is filled) now, so
        # that the file's size is known and reserved before any data are written.
        dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
        space = h5py.h5s.create_simple(tuple(shape)) if shape else h5py.h5s.create(h5py.h5s.SCALAR)
        parent, _, leaf = dataset.rpartition("/")
        group = self._file.require_group(parent) if parent else self._file
        self._dsid = h5py.h5d.create(group.id, leaf.encode(), tid, space, dcpl=dcpl)
        self._shape = tuple(shape)
        self.nbytes = math.prod(shape) * dtype.itemsize

    def align_for(self, plan_axis):
        """Rows per write step must be a multiple of the HDF5 chunk rows on that axis."""
        if self._chunk_axis == plan_axis:
            return self._chunk_rows
        return 1

    def preallocate(self):
        # HDF5 writes its data and metadata below its end of allocation (every chunk
        # is allocated at creation): reserve all of it, plus slack for the metadata
        # written at close, so that no write, and above all no flush inside h5py,
        # meets a full disk (a failed flush at close crashes h5py). The file's size
        # is left alone: HDF5 must see its own end of file.
        self.nbytes = self._file.id.get_filesize() + _H5_METADATA_SLACK
        fd = os.open(self._path, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            try:
                _fallocate_keep_size(fd, self.nbytes)
            except OSError as exc:
                if exc.errno in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                    return  # nothing to reserve with on this file system
                # Give back what a partly failed reservation took, so that closing
                # HDF5 (which writes a little metadata) finds room.
                _release_past_eof(fd)
                raise
        finally:
            os.close(fd)

    def write(self, start, count, index, buf):
        try:
            self._write(index, buf)
        except (RuntimeError, OSError) as exc:
            raise _h5_error(exc) from exc

    def _write(self, index, buf):
        h5py = self._h5py
        if not self._shape:
            fspace = self._dsid.get_space()
            mspace = h5py.h5s.create(h5py.h5s.SCALAR)
        else:
            offsets, counts = [], []
            for i, d in zip(index, self._shape):
                if isinstance(i, slice):
                    lo, hi, _ = i.indices(d)
                    offsets.append(lo)
                    counts.append(hi - lo)
                else:
                    offsets.append(i)
                    counts.append(1)
            fspace = self._dsid.get_space()
            fspace.select_hyperslab(tuple(offsets), tuple(counts))
            mspace = h5py.h5s.create_simple(tuple(counts))
        data = buf if self._mem_view is None else buf.view(self._mem_view)
        self._dsid.write(mspace, fspace, np.ascontiguousarray(data), mtype=self._tid)

    def close(self, sync):
        f, self._file = self._file, None
        if f is not None:
            dsid, self._dsid = self._dsid, None
            try:
                dsid.close()
                f.close()  # flushes the metadata into the reserved space
            except (RuntimeError, OSError) as exc:
                raise _h5_error(exc) from exc
            fd = os.open(self._path, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
            try:
                _release_past_eof(fd)  # the unused part of the reservation
            finally:
                os.close(fd)
            if sync:
                fd = os.open(self._path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)


# safetensors dtype names (huggingface/safetensors: the `Dtype` enum of the format).
_ST_DTYPES = {"float64": "F64", "float32": "F32", "float16": "F16", "bfloat16": "BF16",
              "int64": "I64", "int32": "I32"}


def _st_dtype(dtype):
    try:
        return _ST_DTYPES[dtype.name]
    except KeyError:
        raise TypeError(f"safetensors output cannot store dtype {dtype}") from None


class _SafetensorsWriter:
    """A safetensors file written block by block.

    The format (huggingface/safetensors): 8 bytes, the little-endian u64 length N
    of a JSON header; N bytes of that header, ``{name: {"dtype", "shape",
    "data_offsets": [begin, end]}}`` plus an optional ``"__metadata__"`` map of
    strings, padded with spaces to a multiple of 8 bytes so that the data are
    aligned; then the tensors' raw little-endian bytes, back to back in header
    order, offsets relative to the end of the header. The header is written here
    rather than by ``safetensors.torch.save_file`` because that needs every
    tensor whole in memory: here each tensor is generated and written block by
    block (bounded memory), into a temporary file renamed when complete.
    """

    def __init__(self, tmp_path, tensors, metadata=None):
        header = {}
        if metadata:
            header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
        offset = 0
        self._offsets = {}
        for name, shape, dtype in tensors:
            if name == "__metadata__" or name in self._offsets:
                raise ValueError(f"Tensor name {name!r} is reserved or repeated")
            nbytes = math.prod(shape) * dtype.itemsize
            header[name] = {"dtype": _st_dtype(dtype), "shape": [int(d) for d in shape],
                            "data_offsets": [offset, offset + nbytes]}
            self._offsets[name] = (offset, dtype.itemsize)
            offset += nbytes
        raw = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        raw += b" " * (-len(raw) % 8)
        prefix = struct.pack("<Q", len(raw)) + raw
        self._data_start = len(prefix)
        self.nbytes = len(prefix) + offset
        self._fd = os.open(tmp_path, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
        _pwrite_all(self._fd, memoryview(prefix), 0)

    def preallocate(self):
        _reserve(self._fd, self.nbytes)

    def writer_for(self, name):
        offset, itemsize = self._offsets[name]
        base = self._data_start + offset

        def write(start, count, index, buf):
            _pwrite_all(self._fd, memoryview(buf.reshape(-1).view(np.uint8)),
                        base + start * itemsize)

        return write

    def close(self, sync):
        fd, self._fd = self._fd, -1
        if fd >= 0:
            try:
                if sync:
                    os.fsync(fd)
            finally:
                os.close(fd)


def _check_initializer(init, shape, dtype, n_threads):
    """Run the initializer's own checks (rank rules such as Orthogonal's, dtype) on an
    empty block, before any file exists. Only densekit's own ``block()`` is probed: the
    generic one of a Keras-style initializer would compute the whole tensor."""
    if _block_kind(init) == "generic":
        return
    index = (slice(0, 0),) if shape else ()
    init.block(shape, index, dtype, n_threads=n_threads)


def _block_kind(init):
    """How `init` makes a block: ``"generic"`` for the generic ``Initializer.block`` of a
    Keras-style subclass (only ``__call__(shape, dtype)``, whole tensor per block),
    ``"whole"`` for :class:`Orthogonal` (its QR needs the whole matrix for any block),
    ``"block"`` for one whose ``block()`` computes only the block."""
    from densekit.initializers import Initializer, Orthogonal

    if getattr(type(init), "block", None) is Initializer.block:
        return "generic"
    return "whole" if isinstance(init, Orthogonal) else "block"


def _whole_tensor(init, kind, shape, dtype, n_threads):
    """``init(shape, dtype)`` flattened, for an initializer whose every block costs the
    whole tensor (`kind` from :func:`_block_kind`)."""
    if kind == "generic":
        full = np.asarray(init(shape, dtype))
    else:
        full = np.asarray(init(shape, dtype, n_threads=n_threads))
    if full.shape != tuple(shape) or full.dtype != dtype:
        raise TypeError(
            f"{type(init).__name__}()(shape={tuple(shape)}, dtype={dtype.name}) returned an "
            f"array of shape {full.shape} and dtype {full.dtype.name}"
        )
    return full.reshape(-1)


def _block_bytes(chunk_bytes, n_threads):
    """Bytes per block of :func:`_generate_blocks`: its ``n_threads + 2`` buffers hold
    ``2 * chunk_bytes`` between them."""
    return max(1, 2 * chunk_bytes // (max(1, n_threads) + 2))


def _generate_blocks(jobs, pool, pending, bar, chunk_bytes, n_threads):
    """Generate tensors block by block and hand each block to its writer.

    `jobs` holds ``(initializer, shape, dtype, align_rows, write)``; ``write(start,
    count, index, buf)`` stores one block and runs on `pool` (one thread), in block
    order. The blocks go through a ring of ``n_threads + 2`` reusable buffers that hold
    ``2 * chunk_bytes`` between them, whatever the number and size of the tensors.
    `pending` holds the writes not yet awaited (the caller cancels them on error).

    A tensor of several blocks is generated by `n_threads` threads, each block on one
    thread (``init.block(shape, index, out=buf, n_threads=1)``), while `pool` writes
    the blocks before it: one OpenMP team per block would idle at the end of every
    block whenever the writer took one of its cores, where independent blocks keep
    every core busy. A tensor of one block is ``init(shape, out=buf)`` on all
    `n_threads`. An initializer whose every ``block()`` costs the whole tensor
    (Orthogonal's QR, the generic ``Initializer.block`` of a Keras-style subclass) is
    called once and copied out block by block. Either way the bytes equal
    ``init(shape, dtype)``.
    """
    n_gen = max(1, n_threads)
    n_slots = n_gen + 2
    block_bytes = _block_bytes(chunk_bytes, n_threads)
    plans = []
    largest = 0
    for init, shape, dtype, align, write in jobs:
        # A plan is consumed lazily (a tiny chunk on a huge tensor is many blocks);
        # its first block is the largest, which sizes the reusable buffers.
        plan = _block_plan(shape, dtype.itemsize, block_bytes, align)
        first = next(plan, None)
        if first is None:
            continue
        largest = max(largest, first[2] * dtype.itemsize)
        plans.append((init, shape, dtype, write, itertools.chain([first], plan),
                      first[2] == math.prod(shape)))
    if not plans:
        return
    # Raw bytes, viewed per tensor as its dtype; 64-byte alignment for any dtype.
    buffers = []
    failed = threading.Event()

    def buffer(slot):
        while len(buffers) <= slot:  # allocated as first needed: a small job needs few
            b = np.empty(largest + 64, dtype=np.uint8)
            buffers.append(b[(-b.ctypes.data) % 64:][:largest])
        return buffers[slot]

    def write_block(generated, write, *args):
        # A block queued behind a failed write must not reach the disk: the main
        # thread may not have seen the failure yet when it queued the next block.
        if failed.is_set():
            return
        try:
            if generated is not None:
                generated.result()
            write(*args)
        except BaseException:
            failed.set()
            raise

    def generate(init, shape, index, dtype, buf):
        if not failed.is_set():
            init.block(shape, index, dtype, out=buf, n_threads=1)

    gen_pool = None
    generating = []
    try:
        step = 0
        for init, shape, dtype, write, plan, whole in plans:
            kind = _block_kind(init)
            # One whole computation for all of the tensor's blocks, not one per block
            # (the memory is what each block() would need anyway).
            full = None if whole or kind == "block" else _whole_tensor(init, kind, shape,
                                                                       dtype, n_threads)
            for index, start, count, block_shape in plan:
                slot = step % n_slots
                step += 1
                if len(pending) == n_slots:
                    pending.pop(0).result()
                buf = buffer(slot)[: count * dtype.itemsize].view(dtype).reshape(block_shape)
                generated = None
                if whole and kind != "generic":
                    init(shape, dtype, out=buf, n_threads=n_threads)
                elif full is not None:
                    np.copyto(buf.reshape(-1), full[start:start + count])
                elif n_gen == 1:
                    init.block(shape, index, dtype, out=buf, n_threads=1)
                else:
                    if gen_pool is None:
                        gen_pool = ThreadPoolExecutor(max_workers=n_gen,
                                                      thread_name_prefix="densekit-init")
                    generated = gen_pool.submit(generate, init, shape, index, dtype, buf)
                    generating.append(generated)
                    if len(generating) > n_slots:
                        generating.pop(0)  # done: its write, n_slots blocks back, was awaited
                pending.append(pool.submit(write_block, generated, write, start, count,
                                           index, buf))
                # Progress counts bytes handed to the writer; the last ones are awaited
                # below.
                bar.update(count * dtype.itemsize)
            del full
        while pending:
            pending.pop(0).result()
    except BaseException:
        failed.set()  # queued blocks are neither generated nor written
        raise
    finally:
        if gen_pool is not None:
            for fut in generating:
                fut.cancel()
            gen_pool.shutdown(wait=True)


# --------------------------------------------------------------------------------------
# The public function
# --------------------------------------------------------------------------------------
def initialize_file(
    path,
    shape,
    initializer,
    dtype="float32",
    *,
    chunk_bytes=DEFAULT_CHUNK_BYTES,
    progress=None,
    overwrite=False,
    fsync=False,
    n_threads=None,
):
    """Write ``initializer(shape, dtype)`` to a file, chunk by chunk, without holding it in RAM.

    Parameters
    ----------
    path : str or os.PathLike
        ``name.npy`` for numpy's ``.npy`` format (read it back with
        ``np.load(path, mmap_mode="r")``), or an HDF5 path (needs h5py):
        ``name.h5:/group/dataset`` (also ``.hdf5``), or plain ``name.h5``, which
        writes the dataset ``"data"`` (:data:`DEFAULT_H5_DATASET`). An HDF5 file
        is written whole, holding that one dataset. ``name.safetensors`` (or
        ``name.safetensors:tensor``) writes a safetensors file holding one tensor
        named ``"data"`` (or `tensor`), readable with ``safetensors.safe_open``;
        a whole model's initial state: :func:`densekit.torch.save_initialized`.
    shape : int or tuple of int
        Shape of the tensor.
    initializer : Initializer, str or dict
        A densekit initializer instance, or anything
        :func:`densekit.initializers.get` accepts (``"he_normal"``, a config dict).
        It must be deterministic (a seeded or once-seeded densekit initializer is)
        and have a ``block()`` method.
    dtype : {"float32", "float64", "float16", "bfloat16"}, default "float32"
        Element type. ``.npy`` files store bfloat16 as numpy does (``'|V2'``): view
        what ``np.load`` returns with ``.view(ml_dtypes.bfloat16)``. HDF5 stores it
        as a true 16-bit float type, which h5py reads back as float32 exactly.
    chunk_bytes : int, default 16 MiB
        Bounds the anonymous memory: ``n_threads + 2`` reusable block buffers share
        ``2 * chunk_bytes`` (blocks being generated, one per thread, and blocks
        waiting for or being written).
    progress : bool or None, default None
        Show a tqdm progress bar on stderr. None shows it when stderr is a
        terminal (never in a log file or a pipe).
    overwrite : bool, default False
        Replace an existing file at `path`. Otherwise an existing file is an error.
    fsync : bool, default False
        ``fsync`` the data before the final rename, so that the file survives a
        power loss too (a crash or interruption never leaves a partial file at
        `path` either way).
    n_threads : int or None, default None
        Threads that generate blocks, each block on one thread while the writer
        thread writes the blocks before it; a tensor of one block uses them all in
        its kernel (see :func:`densekit.get_num_threads`).

    Returns
    -------
    path : str
        The path written (for HDF5, ``"file.h5:/dataset"``).

    Raises
    ------
    ValueError
        Unsupported suffix, bad shape, ``chunk_bytes`` smaller than one element.
    TypeError
        Unsupported dtype, or not an initializer.
    FileExistsError
        `path` exists and `overwrite` is False.
    FileNotFoundError, IsADirectoryError
        The directory does not exist, or `path` is a directory.
    OSError
        ``errno.ENOSPC`` when the device has too little space (checked before
        writing, and reported clearly if it happens during the write).

    Notes
    -----
    Everything that can be checked is checked before any file is created: the
    arguments, the initializer against the shape (Orthogonal's rank rule), the
    directory as the OS resolves it (``d/missing/../w.npy`` is refused, as
    ``open`` would refuse it), and the free space. The data are written to a
    temporary file in the same directory, ``.<name>.<pid>@<host>.<random>.partial``,
    whose blocks are reserved up front (``.npy`` and HDF5 alike), and which is
    renamed onto `path` (``os.replace``) only once complete; an error or
    ``KeyboardInterrupt`` removes it. A process killed outright (SIGKILL, power
    loss) cannot remove it: the next call for the same `path` on the same host
    removes the partial files of processes that no longer exist. Blocks are contiguous runs of the C-ordered
    tensor, generated by ``initializer.block(shape, index, out=buffer)``, so the
    file equals ``initializer(shape, dtype)`` bit for bit, whatever `chunk_bytes`
    and `n_threads`.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from densekit import initializers
    >>> from densekit.io import initialize_file
    >>> init = initializers.HeNormal(seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "w.npy")
    >>> _ = initialize_file(path, (1000, 300), init, chunk_bytes=2**16, progress=False)
    >>> bool(np.array_equal(np.load(path, mmap_mode="r"), init((1000, 300))))
    True
    """
    init = resolve_initializer(initializer)
    shape = check_shape(shape)
    dtype = resolve_dtype(dtype)
    if isinstance(chunk_bytes, bool):
        raise TypeError(f"Argument `chunk_bytes` must be an integer. Received: chunk_bytes={chunk_bytes!r}")
    try:
        chunk_bytes = operator.index(chunk_bytes)
    except TypeError:
        raise TypeError(
            f"Argument `chunk_bytes` must be an integer. Received: chunk_bytes={chunk_bytes!r}"
        ) from None
    if chunk_bytes < dtype.itemsize:
        raise ValueError(
            f"Argument `chunk_bytes` must be at least one element ({dtype.itemsize} bytes). "
            f"Received: chunk_bytes={chunk_bytes}"
        )
    n_threads = effective_n_threads(n_threads)
    file_path, fmt, dataset = _parse_path(path)
    _check_initializer(init, shape, dtype, n_threads)
    directory, target = _check_target(file_path, overwrite)

    data_bytes = math.prod(shape) * dtype.itemsize
    needed = data_bytes if fmt != "h5" else _h5_estimate(shape, dtype.itemsize)
    free = _free_bytes(directory)
    if free is not None and free < needed:
        raise _no_space(file_path, needed, directory)

    base = os.path.basename(target)
    _remove_stale_partials(directory, base)
    tmp_path = _create_partial(directory, base, file_path)
    writer = None
    pool = None
    bar = None
    pending = []
    try:
        if fmt == "npy":
            writer = _NpyWriter(tmp_path, shape, dtype)
            align = 1
        elif fmt == "safetensors":
            writer = _SafetensorsWriter(tmp_path, [(dataset, shape, dtype)])
            align = 1
        else:
            writer = _H5Writer(tmp_path, shape, dtype, dataset)
            per_block = max(1, _block_bytes(chunk_bytes, n_threads) // dtype.itemsize)
            align = writer.align_for(_split_axis(shape, per_block))
        try:
            writer.preallocate()
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise _no_space(file_path, writer.nbytes, directory) from exc
            raise

        bar = byte_progress(progress, data_bytes, f"densekit {base}")
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="densekit-io")
        _generate_blocks(
            [(init, shape, dtype, align, writer.writer_for(dataset) if fmt == "safetensors"
              else writer.write)],
            pool, pending, bar, chunk_bytes, n_threads,
        )
        writer.close(sync=fsync)
        os.replace(tmp_path, target)
    except BaseException as exc:
        for fut in pending:
            fut.cancel()
        for fut in pending:
            try:
                fut.result()
            except BaseException:
                pass
        if writer is not None:
            try:
                writer.close(sync=False)
            except Exception:
                pass
        try:
            os.unlink(tmp_path)
        except FileNotFoundError:
            pass
        if (isinstance(exc, OSError) and exc.errno == errno.ENOSPC
                and "nothing was left behind" not in str(exc)):
            raise _no_space(file_path, needed, directory, cause=exc.strerror) from exc
        raise
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
        if bar is not None:
            bar.close()
    if fmt == "h5":
        return f"{file_path}:/{dataset}"
    return file_path


# --------------------------------------------------------------------------------------
# Many tensors to safetensors (densekit.torch.save_initialized)
# --------------------------------------------------------------------------------------
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?)\s*([KMGT]?I?B)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
               "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def _parse_size(value, name):
    """Bytes from an int or a Hugging Face size string ("5GB" = 5e9, "5GiB" = 5 * 2**30)."""
    if isinstance(value, str):
        match = _SIZE.match(value)
        unit = (match.group(2) or "B").upper() if match else None
        if match and unit in _SIZE_UNITS:
            return int(float(match.group(1)) * _SIZE_UNITS[unit])
    elif not isinstance(value, bool):
        try:
            value = operator.index(value)
        except TypeError:
            pass
        else:
            if value > 0:
                return value
    raise ValueError(
        f"Argument `{name}` must be a positive number of bytes or a size such as '5GB' "
        f"or '500MiB'. Received: {name}={value!r}"
    )


def _shard_names(file_path, n):
    root = file_path[: -len(".safetensors")] if file_path.lower().endswith(".safetensors") \
        else file_path
    return [f"{root}-{i + 1:05d}-of-{n:05d}.safetensors" for i in range(n)]


def _write_safetensors(path, tensors, *, max_shard_size=None, progress=None, overwrite=False,
                       fsync=False, n_threads=None, chunk_bytes=DEFAULT_CHUNK_BYTES,
                       metadata=None):
    """Write ``[(name, shape, dtype, initializer)]`` to one safetensors file, or to
    shards of at most `max_shard_size` bytes plus ``<path>.index.json`` (Hugging Face's
    layout: ``{"metadata": {"total_size": bytes}, "weight_map": {name: file name}}``).

    Every file is generated block by block through :func:`_generate_blocks` into a
    temporary file; all are renamed into place (the index last) only when every one
    is complete. Returns the paths written.
    """
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if not isinstance(path, str) or not path.lower().endswith(".safetensors"):
        raise ValueError(
            f"Argument `path` must end in .safetensors. Received: path={path!r}"
        )
    chunk_bytes = operator.index(chunk_bytes)
    n_threads = effective_n_threads(n_threads)
    tensors = [(n, tuple(s), np.dtype(d), i) for n, s, d, i in tensors]
    for _, _, dtype, _ in tensors:
        _st_dtype(dtype)
    sizes = [math.prod(s) * d.itemsize for _, s, d, _ in tensors]
    groups = [list(range(len(tensors)))]
    if max_shard_size is not None:
        limit = _parse_size(max_shard_size, "max_shard_size")
        groups, current, used = [], [], 0
        for k, size in enumerate(sizes):
            if current and used + size > limit:
                groups.append(current)
                current, used = [], 0
            current.append(k)
            used += size
        groups.append(current)
    sharded = len(groups) > 1
    files = _shard_names(path, len(groups)) if sharded else [path]
    index_path = path + ".index.json" if sharded else None
    targets = [_check_target(f, overwrite) for f in files]
    if index_path is not None:
        targets.append(_check_target(index_path, overwrite))
    total = sum(sizes)
    directory = targets[0][0]
    free = _free_bytes(directory)
    if free is not None and free < total:
        raise _no_space(path, total, directory)

    partials = []
    writers = []
    pool = None
    bar = None
    pending = []
    try:
        for (directory, target), group in zip(targets, groups):
            base = os.path.basename(target)
            _remove_stale_partials(directory, base)
            tmp = _create_partial(directory, base, target)
            partials.append((tmp, target))
            writer = _SafetensorsWriter(
                tmp, [(tensors[k][0], tensors[k][1], tensors[k][2]) for k in group], metadata
            )
            writers.append(writer)
            try:
                writer.preallocate()
            except OSError as exc:
                if exc.errno == errno.ENOSPC:
                    raise _no_space(target, writer.nbytes, directory) from exc
                raise
        bar = byte_progress(progress, total, f"densekit {os.path.basename(path)}")
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="densekit-io")
        for writer, group in zip(writers, groups):
            jobs = [(tensors[k][3], tensors[k][1], tensors[k][2], 1,
                     writer.writer_for(tensors[k][0])) for k in group]
            _generate_blocks(jobs, pool, pending, bar, chunk_bytes, n_threads)
        for writer in writers:
            writer.close(sync=fsync)
        if index_path is not None:
            directory, target = targets[-1]
            tmp = _create_partial(directory, os.path.basename(target), target)
            partials.append((tmp, target))
            weight_map = {tensors[k][0]: os.path.basename(f)
                          for f, group in zip(files, groups) for k in group}
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f,
                          indent=2)
                f.write("\n")
                if fsync:
                    f.flush()
                    os.fsync(f.fileno())
        for tmp, target in partials:
            os.replace(tmp, target)
    except BaseException:
        for fut in pending:
            fut.cancel()
        for fut in pending:
            try:
                fut.result()
            except BaseException:
                pass
        for writer in writers:
            try:
                writer.close(sync=False)
            except Exception:
                pass
        for tmp, _ in partials:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
        raise
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
        if bar is not None:
            bar.close()
    return [t for _, t in targets]
