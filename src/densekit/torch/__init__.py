"""Fill CPU torch tensors in place with densekit's parallel samplers.

Two ways in:

- :func:`fill_` fills a tensor with any densekit initializer (Keras semantics,
  Keras fan rules on the tensor's shape).
- Drop-in names for ``torch.nn.init``: :func:`uniform_`, :func:`normal_`,
  :func:`trunc_normal_`, :func:`constant_`, :func:`ones_`, :func:`zeros_`,
  :func:`eye_`, :func:`dirac_`, :func:`xavier_uniform_`, :func:`xavier_normal_`,
  :func:`kaiming_uniform_`, :func:`kaiming_normal_`, :func:`orthogonal_`,
  :func:`sparse_` (and torch's deprecated names without the underscore, which
  warn with a FutureWarning as torch's do), with
  torch's signatures, defaults, fan rules (:func:`_calculate_fan_in_and_fan_out`:
  a ``(out, in, *kernel)`` weight has fan_in ``in * prod(kernel)``) and gains
  (:func:`calculate_gain`). ``import densekit.torch as init`` in place of
  ``import torch.nn.init as init``.

Tensors must be on the CPU, contiguous (strided layout) and float32, float64,
float16 or bfloat16; they are written through a zero-copy numpy view. Tensors
that require grad are filled under ``torch.no_grad()``, as torch.nn.init does.

Seeds: torch's ``generator`` cannot drive densekit's counter-based sampler, so
each function also takes ``seed=None``. An int seed gives the same values every
time. With ``seed=None`` a seed is drawn from `generator` (or from torch's default
generator) with ``torch.randint``, so ``torch.manual_seed(s)`` makes a whole
model's initialization reproducible, as with torch (the values differ from
torch's own, the distributions are the same).

Whole models: :func:`init_module_` initializes every parameter of a module tree
(torch's own ``reset_parameters`` distributions, or the ``normal(0.02)`` scheme of
language models, plus user rules), with per-parameter seeds derived from the
parameter's name; :func:`materialize_` allocates and initializes a model built on
the meta device; both accept DTensor parameters (FSDP2, tensor parallel) and fill
each rank's shard with exactly its slice of the unsharded result.
:func:`save_initialized` writes the same values to safetensors without holding the
model in memory.

Needs the ``torch`` extra: ``pip install 'densekit[torch]'``.
"""

import contextvars
import inspect
import math
import numbers
import warnings

import numpy as np

from densekit.initializers._layout import bfloat16_dtype, resolve_dtype, resolve_initializer

try:
    import torch as _torch
except ImportError as exc:  # pragma: no cover - exercised only without torch
    raise ImportError(
        "densekit.torch needs PyTorch: pip install 'densekit[torch]' (torch>=2.1)"
    ) from exc

try:
    from torch.autograd.graph import increment_version as _increment_version
except ImportError:  # pragma: no cover - torch < 2.1
    _increment_version = None

__all__ = [
    "Fallback",
    "FallbackWarning",
    "calculate_gain",
    "constant",
    "constant_",
    "dirac",
    "dirac_",
    "eye",
    "eye_",
    "fill_",
    "init_module_",
    "initializer_for",
    "kaiming_normal",
    "kaiming_uniform",
    "kaiming_normal_",
    "kaiming_uniform_",
    "materialize_",
    "normal",
    "normal_",
    "ones_",
    "orthogonal",
    "orthogonal_",
    "param_seed",
    "save_initialized",
    "sparse",
    "sparse_",
    "trunc_normal_",
    "uniform",
    "uniform_",
    "xavier_normal",
    "xavier_normal_",
    "xavier_uniform",
    "xavier_uniform_",
    "with_fans",
    "zeros_",
]

_FLOAT_TYPES = (_torch.float32, _torch.float64, _torch.float16, _torch.bfloat16)
# torch.randint draws int64s (upper bound exclusive); densekit seeds are in [0, 2**64).
_SEED_HIGH = 2**63 - 1


def _numpy_view(tensor, name="tensor"):
    """A writable numpy array sharing `tensor`'s memory (bfloat16 via ml_dtypes)."""
    if not isinstance(tensor, _torch.Tensor):
        raise TypeError(
            f"Argument `{name}` must be a torch.Tensor. Received: type {type(tensor).__name__}"
        )
    if tensor.is_meta:
        raise ValueError(
            f"Argument `{name}` must be on the CPU; it is on the meta device (it has no "
            f"memory to fill): allocate it first (torch.empty_like(t, device='cpu')), or for a whole module use "
            f"densekit.torch.materialize_(module)."
        )
    if tensor.device.type != "cpu":
        raise ValueError(
            f"Argument `{name}` must be on the CPU (densekit samples into host memory; "
            f"fill a CPU tensor and move it with .to(device)). Received device {tensor.device}."
        )
    if tensor.layout != _torch.strided:
        raise ValueError(
            f"Argument `{name}` must be a dense (strided) tensor. Received layout {tensor.layout}."
        )
    if tensor.dtype not in _FLOAT_TYPES:
        raise TypeError(
            f"Argument `{name}` must have dtype float32, float64, float16 or bfloat16. "
            f"Received dtype {tensor.dtype}."
        )
    if not tensor.is_contiguous():
        raise ValueError(
            f"Argument `{name}` must be contiguous; call .contiguous() first, or fill a "
            f"contiguous tensor and transpose it."
        )
    if tensor.is_conj() or tensor.is_neg():  # pragma: no cover - only for complex views
        raise ValueError(f"Argument `{name}` must not be a lazily conjugated/negated view.")
    data = tensor.detach()
    if tensor.dtype == _torch.bfloat16:
        return data.view(_torch.int16).numpy().view(bfloat16_dtype())
    return data.numpy()


def _bump_version(tensor):
    # Writes through numpy are invisible to autograd: bump the version counter as an
    # in-place torch op would, so a tensor saved for backward is caught, not silently used.
    if _increment_version is not None:
        _increment_version(tensor)


# initializer_for() sets (meta tensor, None); _fill_with puts the initializer in it.
_CAPTURE = contextvars.ContextVar("densekit_torch_capture", default=None)


def _fill_with(tensor, init, n_threads, shape=None):
    """Write ``init(tensor.shape)`` into `tensor`: a CPU tensor through a numpy view,
    a DTensor shard as its block of the global tensor (see :mod:`._dtensor`)."""
    from densekit.torch import _dtensor

    box = _CAPTURE.get()
    if box is not None and box[0] is tensor:
        # initializer_for(): record what would be written, write nothing.
        box[1] = init if shape is None else _Reshaped(init, shape)
        return tensor
    if _dtensor.is_dtensor(tensor):
        if shape is not None:
            init = _Reshaped(init, shape)
        return _dtensor.fill_local(tensor, init, n_threads)
    arr = _numpy_view(tensor)
    if shape is not None:
        arr = arr.reshape(shape)
    if arr.size == 0:
        return tensor
    with _torch.no_grad():
        init(arr.shape, arr.dtype, out=arr, n_threads=n_threads)
    _bump_version(tensor)
    return tensor


class _Reshaped:
    """``init(view_shape)`` reshaped to the tensor's shape (torch's orthogonal_ sees a
    tensor as ``(shape[0], prod(shape[1:]))``); its blocks are computed whole."""

    def __init__(self, init, view_shape):
        self._init = init
        self._view_shape = tuple(view_shape)

    def __call__(self, shape, dtype=None, *, out=None, n_threads=None):
        values = self._init(self._view_shape, dtype, n_threads=n_threads).reshape(shape)
        if out is None:
            return values
        out[...] = values
        return out

    def block(self, shape, index, dtype=None, *, out=None, n_threads=None):
        values = self(shape, dtype, n_threads=n_threads)[index]
        if out is None:
            return np.array(values, copy=True)
        out[...] = values
        return out


def fill_(tensor, initializer, *, fans="keras", n_threads=None):
    """Fill `tensor` in place with ``initializer(tensor.shape)`` and return it.

    Parameters
    ----------
    tensor : torch.Tensor or DTensor
        CPU, contiguous, float32, float64, float16 or bfloat16 (16-bit tensors
        are written directly, with no float32 temporary). A DTensor
        (``torch.distributed.tensor``) gets, on each rank, exactly its slice of
        the global tensor: fans come from the global shape and the values do not
        depend on the mesh or the placements.
    initializer : Initializer, str or dict
        A densekit initializer or anything :func:`densekit.initializers.get`
        accepts. Its Keras semantics apply.
    fans : {"keras", "torch"}, default "keras"
        How a variance-scaling initializer (``HeNormal``, ``GlorotUniform``,
        ``VarianceScaling``...) reads the shape. ``"keras"``: Keras' rules (a
        2-D shape is ``(fan_in, fan_out)``, the transpose of a
        ``torch.nn.Linear`` weight). ``"torch"``: torch's rules
        (:func:`_calculate_fan_in_and_fan_out`: a ``(out, in, *kernel)``
        weight has ``fan_in = in * prod(kernel)``), so that He and Glorot mean
        to a torch weight what they mean to a Keras kernel; tensors with fewer
        than 2 dimensions keep Keras' rules. Other initializers ignore it.
    n_threads : int or None
        Sampling threads (None: :func:`densekit.get_num_threads`).

    Returns
    -------
    torch.Tensor
        `tensor`, whose values now equal ``initializer(shape, dtype)`` bit for bit.

    Examples
    --------
    >>> import torch
    >>> from densekit import initializers
    >>> from densekit.torch import fill_
    >>> w = fill_(torch.empty(256, 128), initializers.HeNormal(seed=0))
    >>> bool((w.numpy() == initializers.HeNormal(seed=0)((256, 128))).all())
    True
    """
    return _fill_with(tensor, with_fans(resolve_initializer(initializer), fans), n_threads)


def with_fans(init, fans):
    """`init` with torch's fan rules when ``fans == "torch"`` (VarianceScaling only)."""
    if fans == "keras":
        return init
    if fans != "torch":
        raise ValueError(f"Argument `fans` must be 'keras' or 'torch'. Received: fans={fans!r}")
    from densekit.initializers import VarianceScaling

    if isinstance(init, VarianceScaling) and not isinstance(init, _TorchFanVarianceScaling):
        return _TorchFanVarianceScaling.from_keras(init)
    return init


def _torch_fans(shape):
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _make_torch_fan_class():
    from densekit.initializers import VarianceScaling

    class TorchFanVarianceScaling(VarianceScaling):
        """A VarianceScaling that reads fans as torch does ((out, in, *kernel))."""

        @classmethod
        def from_keras(cls, init):
            new = cls(scale=init.scale, mode=init.mode, distribution=init.distribution,
                      seed=init.seed)
            new._init_seed = init._init_seed
            return new

        def _variance(self, shape):
            if len(shape) < 2:
                return super()._variance(shape)
            fan_in, fan_out = _torch_fans(tuple(shape))
            if self.mode == "fan_in":
                n = fan_in
            elif self.mode == "fan_out":
                n = fan_out
            else:
                n = (fan_in + fan_out) / 2.0
            return float(self.scale) / max(1.0, n)

    return TorchFanVarianceScaling


_TorchFanVarianceScaling = _make_torch_fan_class()


# --------------------------------------------------------------------------------------
# torch.nn.init's rules, reproduced
# --------------------------------------------------------------------------------------
def calculate_gain(nonlinearity, param=None):
    """The recommended gain for a nonlinearity, exactly as ``torch.nn.init.calculate_gain``.

    linear, conv*, sigmoid: 1; tanh: 5/3; relu: sqrt(2);
    leaky_relu: sqrt(2 / (1 + negative_slope**2)) (slope `param`, default 0.01); selu: 3/4.
    """
    linear_fns = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                  "conv_transpose2d", "conv_transpose3d"]
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            negative_slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor):
    """torch's fans: a ``(out, in, *kernel)`` weight has fan_in = in * prod(kernel),
    fan_out = out * prod(kernel). Fewer than 2 dimensions is a ValueError."""
    dimensions = tensor.dim()
    if dimensions < 2:
        raise ValueError(
            "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions"
        )
    num_input_fmaps = tensor.size(1)
    num_output_fmaps = tensor.size(0)
    receptive_field_size = 1
    for s in tensor.shape[2:]:
        receptive_field_size *= s
    return num_input_fmaps * receptive_field_size, num_output_fmaps * receptive_field_size


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    valid_modes = ["fan_in", "fan_out"]
    if mode not in valid_modes:
        raise ValueError(f"Mode {mode} not supported, please use one of {valid_modes}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _resolve_seed(seed, generator):
    if seed is not None:
        if generator is not None:
            raise ValueError(
                "Pass either `seed` or `generator`, not both: `generator` is only used "
                "to draw a seed when `seed` is None."
            )
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
            raise ValueError(
                f"Argument `seed` must be a non-negative integer or None. Received: seed={seed!r}"
            )
        return int(seed)
    if generator is not None and not isinstance(generator, _torch.Generator):
        raise TypeError(
            f"Argument `generator` must be a torch.Generator or None. "
            f"Received: type {type(generator).__name__}"
        )
    return int(_torch.randint(0, _SEED_HIGH, (1,), generator=generator).item())


def _initializers():
    from densekit import initializers

    return initializers


def uniform_(tensor, a=0.0, b=1.0, generator=None, *, seed=None, n_threads=None):
    """Fill with U[a, b), like ``torch.nn.init.uniform_`` (see the module for `seed`)."""
    init = _initializers().RandomUniform(minval=a, maxval=b, seed=_resolve_seed(seed, generator))
    return _fill_with(tensor, init, n_threads)


def normal_(tensor, mean=0.0, std=1.0, generator=None, *, seed=None, n_threads=None):
    """Fill with N(mean, std**2), like ``torch.nn.init.normal_``."""
    init = _initializers().RandomNormal(mean=mean, stddev=std, seed=_resolve_seed(seed, generator))
    return _fill_with(tensor, init, n_threads)


def _norm_cdf(x):
    # erfc keeps full relative precision in the left tail (down to about x = -38).
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


# Each rejection round redraws the rejected elements from a fresh stream whose seed
# is derived from (seed, round); below this acceptance probability the inverse-CDF
# method is used instead (rejection would need too many rounds).
_MIN_ACCEPTANCE = 0.25
_CHECK_CHUNK = 1 << 20


def _derived_seed(seed, round_):
    return int(np.random.SeedSequence([seed, round_, 0x7D2]).generate_state(1, np.uint64)[0])


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None, *, seed=None,
                  n_threads=None):
    """Fill with N(mean, std**2) truncated to [a, b], like ``torch.nn.init.trunc_normal_``.

    As in torch, `a` and `b` are absolute bounds (not multiples of `std`).

    Notes
    -----
    Three exact methods, chosen from the bounds:

    - ``a == mean - 2*std`` and ``b == mean + 2*std`` (torch's default with
      ``mean=0, std=1``): densekit's truncated-normal kernel (Keras'
      TruncatedNormal), the fast path.
    - otherwise, when a normal draw lands in [a, b] with probability >= 1/4 (the
      common ``trunc_normal_(w, std=0.02)``, whose bounds are +-100 std, is
      this case): densekit's normal kernel, then every value outside [a, b] is
      redrawn from an independent stream (rejection sampling) until none is left.
    - otherwise (a narrow or far-out interval): the inverse CDF, like torch:
      uniform draws in [Phi(alpha), Phi(beta)] mapped through scipy's ``ndtri``,
      then clamped to [a, b] against rounding. This path runs on one thread.
    """
    seed = _resolve_seed(seed, generator)
    mean, std, a, b = float(mean), float(std), float(a), float(b)
    if not (std > 0 and math.isfinite(std)):
        raise ValueError(f"Argument `std` must be a positive finite number. Received: std={std!r}")
    if not a < b:
        raise ValueError(f"Arguments `a` and `b` must satisfy a < b. Received: a={a}, b={b}")
    # torch warns when the mean is more than 2 std outside [a, b]: the inverse-CDF path
    # below stays exact there (float64 uniforms), so no warning is needed.
    inits = _initializers()
    if math.isclose(a, mean - 2 * std, rel_tol=1e-12, abs_tol=1e-300) and math.isclose(
        b, mean + 2 * std, rel_tol=1e-12, abs_tol=1e-300
    ):
        return _fill_with(tensor, inits.TruncatedNormal(mean=mean, stddev=std, seed=seed),
                          n_threads)
    return _fill_with(tensor, _TruncNormal(mean, std, a, b, seed), n_threads)


class _TruncNormal:
    """The rejection and inverse-CDF paths of :func:`trunc_normal_` on a numpy array
    (whole tensors only: a block is cut from the whole)."""

    def __init__(self, mean, std, a, b, seed):
        self.mean, self.std, self.a, self.b, self.seed = mean, std, a, b, seed

    def block(self, shape, index, dtype=None, *, out=None, n_threads=None):
        values = self(shape, dtype, n_threads=n_threads)[index]
        if out is None:
            return np.array(values, copy=True)
        out[...] = values
        return out

    def __call__(self, shape, dtype=None, *, out=None, n_threads=None):
        if out is None:
            out = np.empty(shape, dtype=resolve_dtype(dtype))
        arr = out
        if arr.size == 0:
            return out
        mean, std, a, b, seed = self.mean, self.std, self.a, self.b, self.seed
        inits = _initializers()
        flat = arr.reshape(-1)
        alpha, beta = (a - mean) / std, (b - mean) / std
        acceptance = _norm_cdf(beta) - _norm_cdf(alpha)
        if acceptance >= _MIN_ACCEPTANCE:
            inits.RandomNormal(mean=mean, stddev=std, seed=seed)(
                arr.shape, arr.dtype, out=arr, n_threads=n_threads
            )
            # The check runs in slices so that its boolean temporaries stay small.
            bad = [
                start + np.flatnonzero((part < a) | (part > b))
                for start in range(0, flat.size, _CHECK_CHUNK)
                for part in (flat[start:start + _CHECK_CHUNK],)
            ]
            bad = np.concatenate(bad) if bad else np.empty(0, np.intp)
            round_ = 1
            while bad.size:
                # Oversample by the acceptance rate so that one or two rounds suffice;
                # accepted draws fill the rejected positions in order (still exact).
                n_draw = int(bad.size / acceptance * 1.2) + 16
                draws = inits.RandomNormal(mean=mean, stddev=std,
                                           seed=_derived_seed(seed, round_))(
                    (n_draw,), arr.dtype, n_threads=n_threads
                )
                accepted = draws[(draws >= a) & (draws <= b)][: bad.size]
                flat[bad[: accepted.size]] = accepted
                bad = bad[accepted.size:]
                round_ += 1
        else:
            from scipy.special import ndtri

            # Work in the left tail, where the CDF is precise: an interval right of the
            # mean is mirrored, sampled, and mirrored back.
            flip = alpha > 0
            if flip:
                alpha, beta = -beta, -alpha
            lo, hi = _norm_cdf(alpha), _norm_cdf(beta)
            if not hi > lo:
                raise ValueError(
                    f"Arguments `a` and `b` lie too far in the tail of N({mean}, {std}**2) "
                    f"to sample (more than ~38 std away). Received: a={a}, b={b}"
                )
            # float64 draws, so the inverse CDF keeps its precision far in the tails.
            u = inits.RandomUniform(minval=lo, maxval=hi, seed=seed)(
                (flat.size,), "float64", n_threads=n_threads
            )
            z = ndtri(u, out=u)
            z *= -std if flip else std
            z += mean
            np.clip(z, a, b, out=z)
            flat[...] = z.astype(arr.dtype)
        return out


def constant_(tensor, val, *, n_threads=None):
    """Fill with `val`, like ``torch.nn.init.constant_``."""
    return _fill_with(tensor, _initializers().Constant(value=float(val)), n_threads)


def ones_(tensor, *, n_threads=None):
    """Fill with 1, like ``torch.nn.init.ones_``."""
    return _fill_with(tensor, _initializers().Ones(), n_threads)


def zeros_(tensor, *, n_threads=None):
    """Fill with 0, like ``torch.nn.init.zeros_``."""
    return _fill_with(tensor, _initializers().Zeros(), n_threads)


def eye_(tensor, *, n_threads=None):
    """Fill a 2-D tensor with the identity, like ``torch.nn.init.eye_``."""
    if isinstance(tensor, _torch.Tensor) and tensor.dim() != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    return _fill_with(tensor, _initializers().Identity(gain=1.0), n_threads)


def xavier_uniform_(tensor, gain=1.0, generator=None, *, seed=None, n_threads=None):
    """U[-bound, bound), bound = gain * sqrt(6 / (fan_in + fan_out)) (torch's fans)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator, seed=seed, n_threads=n_threads)


def xavier_normal_(tensor, gain=1.0, generator=None, *, seed=None, n_threads=None):
    """N(0, std**2), std = gain * sqrt(2 / (fan_in + fan_out)) (torch's fans)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator, seed=seed, n_threads=n_threads)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None, *,
                     seed=None, n_threads=None):
    """U[-bound, bound), bound = sqrt(3) * gain / sqrt(fan), like torch's kaiming_uniform_."""
    if isinstance(tensor, _torch.Tensor) and 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", UserWarning, stacklevel=2)
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator, seed=seed, n_threads=n_threads)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None, *,
                    seed=None, n_threads=None):
    """N(0, std**2), std = gain / sqrt(fan), like torch's kaiming_normal_ (NOT truncated,
    unlike Keras' HeNormal)."""
    if isinstance(tensor, _torch.Tensor) and 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", UserWarning, stacklevel=2)
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std, generator, seed=seed, n_threads=n_threads)


def orthogonal_(tensor, gain=1, generator=None, *, seed=None, n_threads=None):
    """A (semi-)orthogonal matrix, like ``torch.nn.init.orthogonal_``.

    As in torch, the tensor is seen as ``(shape[0], prod(shape[1:]))``; its rows
    (or columns, whichever are fewer) are orthonormal, times `gain`.
    """
    if isinstance(tensor, _torch.Tensor) and tensor.ndimension() < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    init = _initializers().Orthogonal(gain=float(gain), seed=_resolve_seed(seed, generator))
    return _fill_with(tensor, init, n_threads, shape=(rows, cols))


class _WholeInitializer:
    """Base of the few initializers computed whole (dirac_, sparse_): a block is cut
    from the whole tensor."""

    def __call__(self, shape, dtype=None, *, out=None, n_threads=None):
        if out is None:
            out = np.empty(shape, dtype=resolve_dtype(dtype))
        if out.size:
            self._write(out, n_threads)
        return out

    def block(self, shape, index, dtype=None, *, out=None, n_threads=None):
        values = self(shape, dtype, n_threads=n_threads)[index]
        if out is None:
            return np.array(values, copy=True)
        out[...] = values
        return out


class _Dirac(_WholeInitializer):
    def __init__(self, groups):
        self.groups = groups

    def _write(self, out, n_threads):
        out[...] = 0
        shape = out.shape
        per_group = shape[0] // self.groups
        centre = tuple(d // 2 for d in shape[2:])
        for g in range(self.groups):
            for d in range(min(per_group, shape[1])):
                out[(g * per_group + d, d) + centre] = 1


def dirac_(tensor, groups=1, *, n_threads=None):
    """Fill a 3-, 4- or 5-D tensor with the Dirac delta, like ``torch.nn.init.dirac_``.

    A convolution with this kernel preserves its input's identity in each group:
    output channel ``g * (out // groups) + d`` copies input channel ``d`` at the
    kernel's centre, for ``d < min(out // groups, in)``. Deterministic (no seed).
    """
    dimensions = tensor.ndimension()
    if dimensions not in [3, 4, 5]:
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    if tensor.size(0) % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    return _fill_with(tensor, _Dirac(int(groups)), n_threads)


class _Sparse(_WholeInitializer):
    def __init__(self, sparsity, std, seed):
        self.sparsity, self.std, self.seed = sparsity, std, seed

    def _write(self, out, n_threads):
        rows, cols = out.shape
        _initializers().RandomNormal(mean=0.0, stddev=self.std, seed=self.seed)(
            out.shape, out.dtype, out=out, n_threads=n_threads
        )
        num_zeros = math.ceil(self.sparsity * rows)
        if num_zeros == 0:
            return
        # Each column's zero rows: the first `num_zeros` of an independent random
        # permutation of the rows (argsort of uniforms from a stream derived from the seed).
        keys = _initializers().RandomUniform(0.0, 1.0, seed=_derived_seed(self.seed, 1))(
            (rows, cols), "float64", n_threads=n_threads
        )
        zero_rows = np.argsort(keys, axis=0, kind="stable")[:num_zeros]
        out[zero_rows, np.arange(cols)[None, :]] = 0


def sparse_(tensor, sparsity, std=0.01, generator=None, *, seed=None, n_threads=None):
    """A sparse 2-D matrix, like ``torch.nn.init.sparse_``: N(0, std**2) values, and in
    each column ``ceil(sparsity * rows)`` entries at random rows set to zero."""
    if tensor.ndimension() != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    if tensor.is_meta and _CAPTURE.get() is None:
        return tensor
    return _fill_with(tensor, _Sparse(float(sparsity), float(std), _resolve_seed(seed, generator)),
                      n_threads)


# --------------------------------------------------------------------------------------
# torch's deprecated names (without the underscore), kept as torch keeps them
# --------------------------------------------------------------------------------------
def _deprecated(old, new):
    warnings.warn(
        f"`nn.init.{old}` is now deprecated in favor of `nn.init.{new}`.",
        FutureWarning,
        stacklevel=3,
    )


def uniform(*args, **kwargs):
    """Deprecated: use :func:`uniform_` (warns with a FutureWarning, as torch does)."""
    _deprecated("uniform", "uniform_")
    return uniform_(*args, **kwargs)


def normal(*args, **kwargs):
    """Deprecated: use :func:`normal_` (warns with a FutureWarning, as torch does)."""
    _deprecated("normal", "normal_")
    return normal_(*args, **kwargs)


def constant(*args, **kwargs):
    """Deprecated: use :func:`constant_` (warns with a FutureWarning, as torch does)."""
    _deprecated("constant", "constant_")
    return constant_(*args, **kwargs)


def eye(*args, **kwargs):
    """Deprecated: use :func:`eye_` (warns with a FutureWarning, as torch does)."""
    _deprecated("eye", "eye_")
    return eye_(*args, **kwargs)


def dirac(*args, **kwargs):
    """Deprecated: use :func:`dirac_` (warns with a FutureWarning, as torch does)."""
    _deprecated("dirac", "dirac_")
    return dirac_(*args, **kwargs)


def xavier_uniform(*args, **kwargs):
    """Deprecated: use :func:`xavier_uniform_` (warns with a FutureWarning, as torch does)."""
    _deprecated("xavier_uniform", "xavier_uniform_")
    return xavier_uniform_(*args, **kwargs)


def xavier_normal(*args, **kwargs):
    """Deprecated: use :func:`xavier_normal_` (warns with a FutureWarning, as torch does)."""
    _deprecated("xavier_normal", "xavier_normal_")
    return xavier_normal_(*args, **kwargs)


def kaiming_uniform(*args, **kwargs):
    """Deprecated: use :func:`kaiming_uniform_` (warns with a FutureWarning, as torch does)."""
    _deprecated("kaiming_uniform", "kaiming_uniform_")
    return kaiming_uniform_(*args, **kwargs)


def kaiming_normal(*args, **kwargs):
    """Deprecated: use :func:`kaiming_normal_` (warns with a FutureWarning, as torch does)."""
    _deprecated("kaiming_normal", "kaiming_normal_")
    return kaiming_normal_(*args, **kwargs)


def orthogonal(*args, **kwargs):
    """Deprecated: use :func:`orthogonal_` (warns with a FutureWarning, as torch does)."""
    _deprecated("orthogonal", "orthogonal_")
    return orthogonal_(*args, **kwargs)


def sparse(*args, **kwargs):
    """Deprecated: use :func:`sparse_` (warns with a FutureWarning, as torch does)."""
    _deprecated("sparse", "sparse_")
    return sparse_(*args, **kwargs)


def initializer_for(function, shape, *args, seed=None, **kwargs):
    """The initializer that ``function(tensor, *args, seed=seed, **kwargs)`` would
    write into a tensor of `shape`, without any tensor: `function` is one of this
    module's torch-named functions. Its ``block()`` gives any slice of the result.
    None when the function would write nothing (a zero-element tensor)."""
    probe = _torch.empty(tuple(shape), device="meta")
    box = [probe, None]
    token = _CAPTURE.set(box)
    try:
        if seed is not None and "seed" in inspect.signature(function).parameters:
            kwargs["seed"] = seed
        function(probe, *args, **kwargs)
    finally:
        _CAPTURE.reset(token)
    return box[1]


from densekit.torch._module import (  # noqa: E402  (needs the functions above)
    Fallback,
    FallbackWarning,
    init_module_,
    materialize_,
    param_seed,
    save_initialized,
)
