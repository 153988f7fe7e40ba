"""DTensor shards (``torch.distributed.tensor``): each rank fills its local shard with
exactly its block of the global tensor (private)."""

import numpy as np
import torch

__all__ = ["is_dtensor", "fill_local", "local_index"]

_DTENSOR = []


def _dtensor_class():
    if not _DTENSOR:
        cls = None
        if torch.distributed.is_available():
            try:
                from torch.distributed.tensor import DTensor as cls
            except ImportError:  # pragma: no cover - torch < 2.4
                cls = None
        _DTENSOR.append(cls)
    return _DTENSOR[0]


def is_dtensor(tensor):
    cls = _dtensor_class()
    return cls is not None and isinstance(tensor, cls)


def local_index(dtensor):
    """The local shard's block of the global tensor as a tuple of slices, or None when
    the placements do not make it one box (``_StridedShard``: FSDP2 over a tensor
    parallel dim).

    Uses ``DTensor.__create_chunk_list__`` (documented on DTensor; it is what
    torch.distributed.checkpoint uses to place each shard), so that uneven shards,
    2-D meshes and torch's own chunking rules come from torch itself.
    """
    from torch.distributed.tensor import Replicate, Shard

    for placement in dtensor.placements:
        if placement.is_partial():
            raise ValueError(
                "Argument `tensor` is a DTensor with a Partial placement (pending "
                "reduction): it has no values of its own to initialize. Received "
                f"placements={tuple(dtensor.placements)}"
            )
        if type(placement) not in (Shard, Replicate):
            return None
    create = getattr(dtensor, "__create_chunk_list__", None)
    if create is None:  # pragma: no cover - torch < 2.4
        raise RuntimeError(
            "Filling a DTensor needs torch >= 2.4 (DTensor.__create_chunk_list__ tells "
            f"where the local shard lies); this is torch {torch.__version__}."
        )
    (chunk,) = create()
    return tuple(slice(int(o), int(o) + int(n)) for o, n in zip(chunk.offsets, chunk.sizes))


def fill_local(dtensor, init, n_threads):
    """Fill `dtensor`'s local shard with ``init(global shape)[its block]``."""
    from densekit.torch import _bump_version, _numpy_view

    shape = tuple(dtensor.shape)
    with torch.no_grad():
        local = dtensor.to_local()
        arr = _numpy_view(local, "tensor (the local shard of a DTensor)")
        index = local_index(dtensor)
        if index is None:
            # No single box: compute the whole tensor and let torch cut this rank's
            # part (no communication: every rank holds the same values).
            from torch.distributed.tensor import distribute_tensor

            full = init(shape, arr.dtype, n_threads=n_threads)
            if arr.dtype.name == "bfloat16":
                full_t = torch.from_numpy(full.view(np.int16)).view(torch.bfloat16)
            else:
                full_t = torch.from_numpy(full)
            part = distribute_tensor(full_t, dtensor.device_mesh, dtensor.placements,
                                     src_data_rank=None).to_local()
            local.copy_(part)
        elif arr.size:
            if arr.shape != tuple(s.stop - s.start for s in index):
                raise RuntimeError(  # pragma: no cover - a torch layout densekit misreads
                    f"The local shard has shape {arr.shape}, but torch places it at {index} "
                    f"of {shape}."
                )
            init.block(shape, index, arr.dtype, out=arr, n_threads=n_threads)
    _bump_version(local)
    return dtensor
