"""`Dense`: y = activation(x @ kernel + bias) on the last axis, with a fused kernel."""

import math
import numbers

import numpy as np

from densekit import activations, constraints, initializers, regularizers
from densekit._lib import _dense
from densekit._threads import numpy_blas_one_thread, threads_for
from densekit.layers._fused import FusedForm, on_fma_product, work_per_mac
from densekit.layers.layer import Layer

__all__ = ["Dense"]

# OpenBLAS threads a GEMM above m*n*k = 65536 * GEMM_MULTITHREAD_THRESHOLD (4) and a
# GEMV above m*n = 2304 * 4 (interface/gemm.c, gemv.c); below, it runs on the caller.
_BLAS_THREADS_GEMM = 1 << 18
_BLAS_THREADS_GEMV = 9216


def output_units(activation, fused, units, dtype):
    """Last-axis size after `activation` (only `glu`-like activations change it)."""
    if fused is not None:
        return units
    probe = np.asarray(activation(np.zeros((1, units), dtype=dtype)))
    return probe.shape[-1] if probe.ndim else units


class Dense(Layer):
    """Just your regular densely-connected layer: ``activation(x @ kernel + bias)``.

    Parameters
    ----------
    units : int
        Positive number of output features.
    activation : str, callable or None, default=None
        Passed through ``densekit.activations.get`` (None is linear).
    use_bias : bool, default=True
        Whether the layer has a bias vector.
    kernel_initializer, bias_initializer : str, dict or callable
        Passed through ``densekit.initializers.get``; defaults 'glorot_uniform'
        and 'zeros'.
    kernel_regularizer, bias_regularizer, activity_regularizer : optional
        Passed through ``densekit.regularizers.get``.
    kernel_constraint, bias_constraint : optional
        Passed through ``densekit.constraints.get``. As in Keras they are not
        applied by `build` or `set_weights`; call :meth:`apply_constraints`.
    input_shape, input_dim, name, dtype, trainable, n_threads
        See :class:`densekit.layers.Layer`.

    Notes
    -----
    The input is cast to the layer dtype (float32 by default) and viewed as a
    2-D (rows, input_dim) matrix, without a copy when it is C-contiguous. For
    float32 on a CPU with FMA (AVX-512 or AVX2) the forward pass is densekit's
    own product (``densekit._lib._dense.FMA_LEVEL``): every output is one fused
    multiply-add per input feature in order, then the bias and the activation
    on each block while it is in cache, so the output is the only allocation
    and a row's bits depend neither on the batch it comes in, nor on
    `n_threads`, nor on the instruction set. Otherwise (float64, or no FMA) it
    is one numpy matmul (numpy's BLAS; kernels of at most 4096 values use
    densekit's row kernel) and one in-place bias + activation pass; there, as
    for numpy, a single row may round differently in the last bit from the same
    row inside a larger batch. Thread use is decided by work size
    (``densekit._threads.threads_for``): small calls run entirely on the
    calling thread and `n_threads` is an upper bound; results never depend on
    it. Activations without a fused kernel (custom
    callables, `glu`, `sparsemax`, softmax over another axis) are applied by
    calling them on the biased output afterwards.

    Examples
    --------
    >>> import numpy as np
    >>> from densekit.layers import Dense
    >>> layer = Dense(4, activation="relu", kernel_initializer="ones")
    >>> layer(np.ones((2, 3))).tolist()
    [[3.0, 3.0, 3.0, 3.0], [3.0, 3.0, 3.0, 3.0]]
    >>> [w.shape for w in layer.weights]
    [(3, 4), (4,)]
    """

    def __init__(
        self,
        units,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        *,
        input_shape=None,
        input_dim=None,
        name=None,
        dtype=None,
        trainable=True,
        n_threads=None,
        **kwargs,
    ):
        if (
            isinstance(units, bool)
            or not isinstance(units, numbers.Integral)
            or units <= 0
        ):
            # repr: `units='8'` must not read as the valid `units=8`.
            raise ValueError(
                "Received an invalid value for `units`, expected "
                f"a positive integer. Received: units={units!r}"
            )
        if not isinstance(use_bias, (bool, np.bool_)):
            raise ValueError(
                f"Argument `use_bias` must be a bool. Received: use_bias={use_bias!r}"
            )
        super().__init__(
            activity_regularizer=activity_regularizer,
            trainable=trainable,
            dtype=dtype,
            name=name,
            input_shape=input_shape,
            input_dim=input_dim,
            n_threads=n_threads,
            **kwargs,
        )
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        # (code, p0, p1, p2) of a kernel fused into the GEMM epilogue, or None:
        # then the activation runs through the activations module afterwards.
        self._fused = activations.fused_code(self.activation)
        self._out_units = None
        self.bias = None

    @property
    def kernel(self):
        """The (input_dim, units) weight matrix (AttributeError while unbuilt)."""
        if not self.built:
            raise AttributeError(
                f"Layer '{self.name}' has no attribute 'kernel': it is not built yet."
            )
        return self._kernel

    def build(self, input_shape):
        """Create kernel (input_shape[-1], units) and bias (units,)."""
        input_shape = tuple(input_shape)
        if len(input_shape) < 2:
            raise ValueError(
                f"Input 0 of layer '{self.name}' is incompatible with the layer: "
                f"expected min_ndim=2, found ndim={len(input_shape)}. "
                f"Full shape received: {input_shape}"
            )
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(
                f"The last dimension of the inputs to layer '{self.name}' should be "
                f"defined. Found None. Full input shape received: {input_shape}"
            )
        if self.built:
            self._weights = []
        self._kernel = self.add_weight(
            "_kernel",
            (input_dim, self.units),
            self.kernel_initializer,
            self.kernel_regularizer,
            self.kernel_constraint,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                "bias",
                (self.units,),
                self.bias_initializer,
                self.bias_regularizer,
                self.bias_constraint,
            )
        else:
            self.bias = None
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        if self._out_units is None:
            self._out_units = output_units(self.activation, self._fused, self.units, self.dtype)
        return tuple(input_shape)[:-1] + (self._out_units,)

    def _check_input(self, x):
        if x.ndim < 2:
            raise ValueError(
                f"Input 0 of layer '{self.name}' is incompatible with the layer: "
                f"expected min_ndim=2, found ndim={x.ndim}. "
                f"Full shape received: {x.shape}"
            )
        if self.built and x.shape[-1] != self._kernel.shape[0]:
            raise ValueError(
                f"Input 0 of layer '{self.name}' is incompatible with the layer: "
                f"expected axis -1 of input shape to have value "
                f"{self._kernel.shape[0]}, but received input with shape {x.shape}"
            )

    def __call__(self, x, n_threads=None, *, training=None):
        # The latency path: the same computation as Layer.__call__ -> call, minus
        # a microsecond-scale Python toll per call, which is the whole cost of a
        # 1x64 layer. Dense behaves the same whether training or not.
        if type(x) is np.ndarray and self.activity_regularizer is None:
            out = self._latency_call(x, n_threads)
            if out is not None:
                if self._activity_losses:
                    self._activity_losses = []
                return out
        return super().__call__(x, n_threads, training=training)

    def _latency_call(self, x, n_threads):
        """act(x @ kernel + bias) for an ndarray `x` that needs no conversion
        (2-D, C-contiguous, of the layer dtype), or None when this layer or `x`
        does not qualify (then use ``__call__``). Records no losses."""
        if (
            type(self) is Dense
            and self.built
            and self._fused is not None
            and x.ndim == 2
            and x.dtype == self._kernel.dtype
            and x.shape[1] == self._kernel.shape[0]
            and x.flags.c_contiguous
        ):
            out = np.empty((x.shape[0], self.units), dtype=x.dtype)
            self._run(x, out, self.n_threads if n_threads is None else n_threads)
            return out
        return None

    def call(self, x, n_threads):
        rows = math.prod(x.shape[:-1])
        out = np.empty(x.shape[:-1] + (self.units,), dtype=self.dtype)
        self._gemm_epilogue(x, out, rows, n_threads)
        if self._fused is not None:
            return out
        result = np.asarray(self.activation(out.reshape(rows, self.units)))
        return result.reshape(x.shape[:-1] + result.shape[1:])

    def _gemm_epilogue(self, x, out, rows, n_threads):
        """out := act(x @ kernel + bias) with the fused code, else x @ kernel + bias."""
        x2 = np.ascontiguousarray(x).reshape(rows, x.shape[-1])
        self._run(x2, out.reshape(rows, self.units), n_threads)

    def _run(self, x, out, n_threads):
        """out := act(x @ kernel + bias) for C-contiguous 2-D `x` and `out`.

        `n_threads` is a public thread argument (None or an int); the thread
        count used is ``threads_for(work, n_threads)``, so small calls never
        leave the calling thread. float32 on an FMA CPU runs densekit's FMA
        product at any size (``_dense.rows_forward``), as do other small kernels
        (at most ``_dense.SMALL_KERNEL_SIZE`` values, on the row kernel). The
        rest call numpy's matmul (numpy's BLAS: the library, thread pool and
        GEMV/GEMM choice of the numpy expression this layer replaces, and the
        pool the user's own numpy code keeps warm; a second BLAS pool spinning
        beside it costs scheduler ticks on a small machine), held to the
        calling thread when the product is small, then one in-place bias +
        activation pass.
        """
        kernel = self._kernel
        k, u = kernel.shape
        code, p0, p1, p2 = self._fused if self._fused is not None else (0, 0.0, 0.0, 0.0)
        if k * u <= _dense.SMALL_KERNEL_SIZE or on_fma_product(kernel.dtype):
            n = threads_for(work_per_mac(kernel.dtype) * x.shape[0] * k * u, n_threads)
            _dense.rows_forward(x, kernel, self.bias, out, code, p0, p1, p2, n)
        else:
            rows = x.shape[0]
            macs = rows * k * u
            # A GEMV reads each kernel value once for 2 flops: memory-bound, so it
            # counts 4x per flop (a second thread adds bandwidth sooner).
            work = 2 * macs if rows > 1 else 8 * macs
            if threads_for(work) == 1 and (macs > _BLAS_THREADS_GEMM
                                           or (rows == 1 and macs >= _BLAS_THREADS_GEMV)):
                # Small, yet OpenBLAS would wake its pool for it: keep it on
                # the calling thread (same bits: OpenBLAS splits only output
                # blocks between threads).
                with numpy_blas_one_thread:
                    np.matmul(x, kernel, out=out)
            else:
                np.matmul(x, kernel, out=out)
            n = threads_for(4 * rows * u, n_threads)
            _dense.bias_activate(out, self.bias, code, p0, p1, p2, n)

    def fused_form(self):
        """This layer as one step of a fused MLP, or None when it is not one.

        Returns
        -------
        FusedForm or None
            ``(kernel, bias, code, params)``: the weights and the activation's
            kernel code and three parameters (``activations.fused_code``), so
            that the output is ``act(x @ kernel + bias)``. None while unbuilt,
            when the activation has no fused kernel, or for a subclass of Dense
            (whose ``call`` may do more).
        """
        if type(self) is not Dense or self._fused is None or not self.built:
            return None
        code, p0, p1, p2 = self._fused
        return FusedForm(self._kernel, self.bias, code, (p0, p1, p2))

    def _forward(self, x, out, n_threads):
        # `x` has the layer dtype and the right last dim; `out` is C-contiguous.
        if self._fused is not None:
            self._gemm_epilogue(x, out, math.prod(x.shape[:-1]), n_threads)
        else:
            out[...] = self.call(x, n_threads)
        return out

    # ----------------------------------------------------------------- training
    def _train_forward(self, x, ws, training, n_threads):
        """(output, cache): ``act(x @ kernel + bias)`` into buffers kept in `ws`.

        The pre-activation z is kept only when the activation's derivative needs
        it, when the activation has no fused kernel, or when the trainer fuses the
        last activation into the loss (``ws["logits"]`` set): then the cache holds
        z, the logits.
        """
        from densekit.layers._grad import needs_input

        rows = math.prod(x.shape[:-1])
        x2 = x.reshape(rows, x.shape[-1])
        keep_logits = ws.get("logits", False)
        need_z = keep_logits or self._fused is None or needs_input(self.activation, self._fused)
        y = ws.get("y")
        if y is None or y.shape[0] != rows:
            y = ws["y"] = np.empty((rows, self.units), dtype=self.dtype)
            ws["z"] = np.empty((rows, self.units), dtype=self.dtype) if need_z else None
        if not need_z:
            code, p0, p1, p2 = self._fused
            _dense.dense_forward(x2, self._kernel, self.bias, y, code, p0, p1, p2, n_threads)
            z = None
        else:
            z = ws["z"]
            _dense.dense_forward(x2, self._kernel, self.bias, z, 0, 0.0, 0.0, 0.0, n_threads)
            if self._fused is not None:
                self.activation(z, out=y, n_threads=n_threads)
            else:
                result = np.asarray(self.activation(z))
                if result.shape != y.shape:
                    raise NotImplementedError(
                        f"densekit cannot train layer '{self.name}': its activation "
                        "changes the number of units."
                    )
                y[...] = result
        return y.reshape(x.shape[:-1] + (self.units,)), (x2, z, y)

    def _backward(self, cache, dy, need_dx, grads, ws, n_threads):
        """dx for `dy`; the kernel's and bias's gradients into `grads` (if given)."""
        from densekit.layers._grad import (
            activation_backward,
            dense_backward,
            needs_input,
        )

        x2, z, y = cache
        rows = x2.shape[0]
        dy2 = np.ascontiguousarray(dy).reshape(rows, self.units)
        dx = None
        if need_dx:
            dx = ws.get("dx")
            if dx is None or dx.shape[0] != rows:
                dx = ws["dx"] = np.empty((rows, x2.shape[1]), dtype=self.dtype)
        dkernel = grads[0] if grads else None
        dbias = grads[1] if grads and self.use_bias else None
        if ws.get("logits", False):
            # the trainer's fused head already gives d loss / d logits
            dense_backward(x2, self._kernel, dy2, dx, dkernel, dbias, need_dx, n_threads)
            return dx
        dz = ws.get("dz")
        if dz is None or dz.shape[0] != rows:
            dz = ws["dz"] = np.empty((rows, self.units), dtype=self.dtype)
        if self._fused is not None and dkernel is not None:
            # The derivative, the bias sums and both GEMMs in one kernel call.
            code, p0, p1, p2 = self._fused
            np.copyto(dz, dy2)
            src = z if needs_input(self.activation, self._fused) else y
            _dense.dense_backward_act(x2, self._kernel, src, dz, dx, dkernel, dbias, need_dx,
                                      code, p0, p1, p2, n_threads)
            return dx
        activation_backward(self.activation, self._fused, z, y, dy2, dz, n_threads)
        dense_backward(x2, self._kernel, dz, dx, dkernel, dbias, need_dx, n_threads)
        return dx

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": _serialize_or_none(
                    regularizers, self.kernel_regularizer
                ),
                "bias_regularizer": _serialize_or_none(regularizers, self.bias_regularizer),
                "kernel_constraint": _serialize_or_none(constraints, self.kernel_constraint),
                "bias_constraint": _serialize_or_none(constraints, self.bias_constraint),
            }
        )
        return config


def _serialize_or_none(family, obj):
    return None if obj is None else family.serialize(obj)
