"""The backward pass of Dense and Activation layers (private).

:func:`activation_backward` is the one place where a layer turns the gradient
with respect to its activation's output into the gradient with respect to the
pre-activation; :func:`needs_input` says which of the two the layer must keep
from the forward pass. Activations with a kernel code (every densekit activation
that the forward pass fuses) go through ``_activations.activation_grad`` and, in
Dense, ``_dense.dense_backward_act`` (the derivative fused with the bias sums).
Activations WITHOUT a kernel code (softmax over another axis, partials with
positional arguments, glu/sparsemax, which change or couple the axis) fall back
to NumPy code below for the densekit activations it knows; custom callables
have no derivative and raise NotImplementedError.
"""

import functools
import math

import numpy as np

from densekit._lib import _activations

__all__ = ["activation_backward", "needs_input"]

# Activations whose derivative the fallback computes from the OUTPUT alone.
_FROM_OUTPUT = {"linear", "relu", "sigmoid", "tanh", "softmax"}


def _name_and_kwargs(activation):
    if isinstance(activation, functools.partial):
        if activation.args:  # positional parameters: not read here, so not trained
            return None, {}
        return getattr(activation.func, "__name__", None), dict(activation.keywords)
    return getattr(activation, "__name__", None), {}


def needs_input(activation, fused):
    """True when the derivative of `activation` needs the pre-activation input.

    `fused` is ``activations.fused_code(activation)`` (None without a kernel).
    """
    if fused is not None:
        code, p0, p1, p2 = fused
        return bool(_activations.grad_needs_input(code, p0, p1, p2))
    name, kwargs = _name_and_kwargs(activation)
    if name == "linear":
        return False
    if name == "relu" and any(kwargs.get(k) not in (None, 0, 0.0)
                              for k in ("negative_slope", "max_value", "threshold")):
        return True
    if name == "softmax" and kwargs.get("axis", -1) != -1:
        return True
    return name not in _FROM_OUTPUT


def activation_backward(activation, fused, z, y, dy, out, n_threads):
    """out := dL/dz given dy = dL/dy for ``y = activation(z)`` (2-D, C-contiguous).

    `z` may be None when :func:`needs_input` is False. With a kernel code
    (`fused`), one ``activation_grad`` pass (thread-count independent); otherwise
    the NumPy fallback of the module docstring.
    """
    if fused is not None:
        code, p0, p1, p2 = fused
        src = z if _activations.grad_needs_input(code, p0, p1, p2) else y
        _activations.activation_grad(code, src.reshape(-1), dy.reshape(-1), out.reshape(-1),
                                     dy.shape[-1] if dy.ndim else 1, p0, p1, p2, n_threads)
        return out
    return _numpy_activation_backward(activation, z, y, dy, out)


def _numpy_activation_backward(activation, z, y, dy, out):
    """The fallback for activations without a kernel code (see the module docstring)."""
    name, kwargs = _name_and_kwargs(activation)
    t = dy.dtype.type
    if name == "linear":
        out[...] = dy
        return out
    if name == "relu" and z is None:
        np.multiply(dy, y > 0, out=out)
        return out
    if name == "sigmoid":
        np.multiply(dy, y * (t(1) - y), out=out)
        return out
    if name == "tanh":
        np.multiply(dy, t(1) - y * y, out=out)
        return out
    if name == "softmax" and kwargs.get("axis", -1) == -1:
        s = np.sum(dy * y, axis=-1, keepdims=True)
        np.multiply(y, dy - s, out=out)
        return out
    if z is None:
        raise ValueError(f"The derivative of activation {name!r} needs its input.")
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if name == "relu":
            slope = t(kwargs.get("negative_slope", 0.0))
            mx = kwargs.get("max_value")
            thr = t(kwargs.get("threshold", 0.0))
            d = np.where(z > thr, t(1), slope).astype(dy.dtype)
            if mx is not None:
                d = np.where(z >= t(mx), t(0), d)
        elif name == "elu":
            alpha = t(kwargs.get("alpha", 1.0))
            d = np.where(z > 0, t(1), alpha * np.exp(z))
        elif name == "selu":
            alpha, scale = t(1.6732632423543772), t(1.0507009873554805)
            d = scale * np.where(z > 0, t(1), alpha * np.exp(z))
        elif name == "softplus":
            d = t(1) / (t(1) + np.exp(-z))
        elif name in ("silu", "swish"):
            s = t(1) / (t(1) + np.exp(-z))
            d = s * (t(1) + z * (t(1) - s))
        elif name == "gelu":
            if kwargs.get("approximate", False):
                c = t(math.sqrt(2 / math.pi))
                u = c * (z + t(0.044715) * z ** 3)
                th = np.tanh(u)
                d = t(0.5) * (t(1) + th) + t(0.5) * z * (t(1) - th * th) * c * (
                    t(1) + t(3 * 0.044715) * z * z)
            else:
                from scipy.special import erf

                cdf = t(0.5) * (t(1) + erf(z / t(math.sqrt(2))))
                pdf = np.exp(-t(0.5) * z * z) / t(math.sqrt(2 * math.pi))
                d = cdf + z * pdf
        elif name == "softsign":
            d = t(1) / (t(1) + np.abs(z)) ** 2
        elif name == "leaky_relu":
            d = np.where(z > 0, t(1), t(kwargs.get("negative_slope", 0.2)))
        elif name == "exponential":
            d = np.exp(z)
        else:
            raise NotImplementedError(
                f"densekit cannot train through activation {activation!r}: it has no "
                "derivative (custom activations cannot be trained through)."
            )
        np.multiply(dy, d.astype(dy.dtype, copy=False), out=out)
    return out


def dense_backward(x, kernel, dz, dx, dkernel, dbias, need_dx, n_threads):
    """dkernel := x^T dz, dbias := column sums of dz, dx := dz kernel^T (if need_dx).

    `dkernel`/`dbias` may be None (a frozen layer, no bias); without `dkernel`
    only dx is computed (one GEMM). All 2-D arrays are C-contiguous in one dtype.
    """
    from densekit._lib import _dense

    if dkernel is not None:
        _dense.dense_backward(x, kernel, dz, dx if need_dx else None, dkernel, dbias,
                              need_dx, n_threads)
    elif need_dx:
        np.matmul(dz, kernel.T, out=dx)
