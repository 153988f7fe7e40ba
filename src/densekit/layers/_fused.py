"""Fused-MLP planning for `Sequential.predict` (private).

A stack of small Dense layers whose activations have fused kernel codes runs as
one call of ``_dense.mlp_forward``: every layer of a row block is computed while
the block stays in cache. This module is the only place that decides whether a
stack qualifies and that packs it for the kernel. It reads each layer only
through ``layer.fused_form()`` (see :meth:`densekit.layers.Dense.fused_form`).
"""

from typing import NamedTuple, Optional

import numpy as np

from densekit._lib import _dense
from densekit._threads import threads_for

__all__ = ["FusedForm", "MlpPlan", "on_fma_product", "plan_mlp", "run_mlp", "work_per_mac"]

_FLOAT32 = np.dtype(np.float32)


def on_fma_product(dtype):
    """Whether Dense products of `dtype` run on densekit's FMA product (float32 on
    a CPU with FMA; ``_dense.FMA_LEVEL``), at any kernel size."""
    return dtype == _FLOAT32 and _dense.FMA_LEVEL != 0


def work_per_mac(dtype):
    """The work (``threads_for`` flops) of one multiply-add of a Dense product
    that runs on densekit's kernels: 8 on the FMA product, so that a second
    thread joins from about 5e5 multiply-adds (where OpenBLAS threads a GEMV or
    GEMM too, and where a product with few rows is bound by reading the
    kernel); 2 on the row kernel."""
    return 8 if on_fma_product(dtype) else 2



class FusedForm(NamedTuple):
    """A layer as one fused step ``act(x @ kernel + bias)`` of the MLP kernel.

    Attributes
    ----------
    kernel : ndarray of shape (input_dim, units), C-contiguous
    bias : ndarray of shape (units,) or None
    code : int
        The activation's kernel code (``activations.fused_code(...)[0]``).
    params : tuple of 3 floats
        The activation's parameters (``activations.fused_code(...)[1:]``).
    """

    kernel: np.ndarray
    bias: Optional[np.ndarray]
    code: int
    params: tuple


class MlpPlan:
    """The packed arguments of one ``mlp_forward`` call over a layer stack."""

    __slots__ = ("kernels", "biases", "codes", "params", "block", "flops_per_row", "key",
                 "out_units", "layers", "dtype", "n_inputs")

    def __init__(self, forms, n_inputs):
        # The plan holds its arrays, so their ids cannot be reused while it lives.
        self.key = _key(forms, n_inputs)
        self.kernels = [form.kernel for form in forms]
        self.biases = [form.bias for form in forms]
        self.codes = np.array([form.code for form in forms], dtype=np.intc)
        self.params = np.array([form.params for form in forms], dtype=np.float64).ravel()
        width = max([n_inputs] + [form.kernel.shape[1] for form in forms])
        # Rows per block: about 16384 values of the widest layer, 16 to 1024 rows.
        self.block = int(min(1024, max(16, 16384 // width)))
        self.flops_per_row = work_per_mac(forms[0].kernel.dtype) * sum(
            form.kernel.size for form in forms)
        self.out_units = forms[-1].kernel.shape[1]


def _key(forms, n_inputs):
    return (n_inputs,) + tuple(
        (id(f.kernel), id(f.bias), f.code, f.params) for f in forms
    )


def _same_layers(plan, layers, dtype, n_inputs):
    """Whether `plan` was made for these Dense layers with their current weight
    arrays and activations (a few attribute reads, no FusedForm per layer)."""
    if plan.dtype != dtype or plan.n_inputs != n_inputs or len(plan.layers) != len(layers):
        return False
    for layer, planned, kernel, bias in zip(layers, plan.layers, plan.kernels, plan.biases):
        if (layer is not planned or getattr(layer, "_kernel", None) is not kernel
                or layer.bias is not bias or not layer.built):
            return False
    return True


def plan_mlp(layers, dtype, n_inputs, previous=None):
    """An :class:`MlpPlan` for `layers` on 2-D inputs of `dtype` with `n_inputs`
    features, or None when some layer has no fused form, is in another dtype,
    or has a kernel too large for the direct row kernel. `previous` (a plan
    from an earlier call) is returned when it describes the same arrays and
    activations, which saves repacking on every small call."""
    if previous is not None and _same_layers(previous, layers, dtype, n_inputs):
        return previous
    forms = []
    for layer in layers:
        describe = getattr(layer, "fused_form", None)
        form = describe() if describe is not None else None
        if (
            form is None
            or form.kernel.dtype != dtype
            or form.kernel.size > _dense.SMALL_KERNEL_SIZE
        ):
            return None
        forms.append(form)
    if previous is not None and previous.key == _key(forms, n_inputs):
        return previous
    plan = MlpPlan(forms, n_inputs)
    plan.layers = tuple(layers)
    plan.dtype = dtype
    plan.n_inputs = n_inputs
    return plan


def run_mlp(plan, x, out, n_threads, progress, n_updates=1):
    """out := the planned stack applied to the C-contiguous 2-D `x`.

    `n_threads` is an upper bound: ``threads_for`` runs a small call on the
    calling thread (the bits do not depend on the count).

    One kernel call covers all rows unless a progress bar wants `n_updates`
    updates; ``progress.update(rows)`` is called after each call (unless
    `progress` is None).
    """
    rows = x.shape[0]
    step = rows if n_updates <= 1 else max(plan.block, -(-rows // n_updates))
    # Threads by work size: a small batch never wakes the OpenMP team.
    n_threads = threads_for(plan.flops_per_row * min(step, rows), n_threads)
    block = _thread_block(plan.block, min(step, rows), n_threads)
    for start in range(0, rows, max(step, 1)):
        stop = min(start + step, rows)
        _dense.mlp_forward(x[start:stop], plan.kernels, plan.biases, plan.codes,
                           plan.params, out[start:stop], block, n_threads)
        if progress is not None:
            progress.update(stop - start)


def _thread_block(block, rows, n_threads):
    """Rows per block of one ``mlp_forward`` call of `rows` rows: the plan's cache-sized
    `block`, made smaller (down to 16 rows) so that each of `n_threads` threads gets
    two blocks. With one block of 256 rows for 256 rows, one thread did all the work
    while the other waited. Rows are independent, so no bit changes."""
    if n_threads <= 1:
        return block
    return max(16, min(block, -(-rows // (2 * n_threads))))
