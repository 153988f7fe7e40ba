"""Whole-module initialization: init_module_, materialize_, save_initialized (private;
re-exported by :mod:`densekit.torch`)."""

import collections
import fnmatch
import functools
import hashlib
import math
import numbers
import re
import sys
import warnings

import numpy as np
import torch
from torch import nn

import densekit.torch as _dt

__all__ = ["FallbackWarning", "init_module_", "materialize_", "param_seed", "save_initialized"]


class FallbackWarning(UserWarning):
    """A module type densekit has no rule for: its own ``reset_parameters`` was run
    (or, without one, its parameters were left as they were)."""


#: One entry of ``report``: the module's qualified name, its type, and what was done
#: ("reset_parameters", "left unchanged (no reset_parameters)", or for a buffer left
#: uninitialized by :func:`materialize_`, "buffer <name> left uninitialized").
Fallback = collections.namedtuple("Fallback", ["module", "type", "action"])


def param_seed(seed, name):
    """The seed of parameter `name` under `seed`: a fixed function, stable everywhere.

    ``int.from_bytes(blake2b(f"{seed}:{name}".encode(), digest_size=8).digest(), "little")``:
    the same in every process, Python version and rank (unlike ``hash()``), so a
    parameter's values depend only on (seed, name, shape, rule).

    Examples
    --------
    >>> from densekit.torch import param_seed
    >>> param_seed(0, "0.weight")
    11487754345684560478
    """
    digest = hashlib.blake2b(f"{int(seed)}:{name}".encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


# --------------------------------------------------------------------------------------
# Specs: (shape, seed) -> a densekit-style initializer (with block()) or a constant
# --------------------------------------------------------------------------------------
class _Spec:
    """How one tensor is initialized: ``make(shape, seed)`` gives its initializer."""

    def __init__(self, label, make):
        self.label = label
        self._make = make

    def make(self, shape, seed):
        return self._make(tuple(shape), seed)

    def __repr__(self):
        return self.label


def _torch_spec(function, *args, **kwargs):
    """A spec from one of densekit.torch's torch-named functions and its arguments."""
    shown = ", ".join([repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()])

    def make(shape, seed):
        init = _dt.initializer_for(function, shape, *args, seed=seed, **kwargs)
        return init if init is not None else _zeros()

    return _Spec(f"{function.__name__}({shown})", make)


def _zeros():
    from densekit.initializers import Zeros

    return Zeros()


def _ones():
    from densekit.initializers import Ones

    return Ones()


def _const(value):
    from densekit.initializers import Constant

    return Constant(value=float(value))


_ZEROS = _Spec("zeros_()", lambda shape, seed: _zeros())
_ONES = _Spec("ones_()", lambda shape, seed: _ones())


def _uniform_spec(bound):
    if bound == 0:
        return _ZEROS
    return _torch_spec(_dt.uniform_, -bound, bound)


class _ZeroRow:
    """``inner`` with row `row` (axis 0) set to zero: an embedding's padding_idx."""

    def __init__(self, inner, row):
        self._inner = inner
        self._row = row

    def __call__(self, shape, dtype=None, *, out=None, n_threads=None):
        out = self._inner(shape, dtype, out=out, n_threads=n_threads)
        out[self._row % shape[0]] = 0
        return out

    def block(self, shape, index, dtype=None, *, out=None, n_threads=None):
        out = self._inner.block(shape, index, dtype, out=out, n_threads=n_threads)
        row = self._row % shape[0]
        index = index if isinstance(index, tuple) else (index,)
        first = index[0] if index else slice(None)
        if isinstance(first, slice):
            start, stop, _ = first.indices(shape[0])
            if start <= row < stop:
                out[row - start] = 0
        elif first % shape[0] == row:
            out[...] = 0
        return out


def _padded(spec, padding_idx):
    if padding_idx is None:
        return spec
    return _Spec(f"{spec.label} with row {padding_idx} zero",
                 lambda shape, seed: _ZeroRow(spec.make(shape, seed), padding_idx))


def _fan_in(shape):
    return _dt._calculate_fan_in_and_fan_out(torch.empty(shape, device="meta"))[0]


# --------------------------------------------------------------------------------------
# The schemes: module type -> {relative parameter name: spec}
# --------------------------------------------------------------------------------------
_NORMS = (nn.LayerNorm, nn.GroupNorm, nn.modules.batchnorm._NormBase)
if hasattr(nn, "RMSNorm"):
    _NORMS = _NORMS + (nn.RMSNorm,)
_CONVS = (nn.modules.conv._ConvNd,)
_RNNS = (nn.RNNBase, nn.RNNCellBase)


def _direct(module):
    return [(n, p) for n, p in module._parameters.items() if p is not None]


def _torch_rules(module):
    """torch's own reset_parameters, per module type (None: not a known type)."""
    params = dict(_direct(module))
    if isinstance(module, (nn.Linear,) + _CONVS):
        out = {}
        if "weight" in params:
            out["weight"] = _torch_spec(_dt.kaiming_uniform_, a=math.sqrt(5))
            if "bias" in params:
                fan_in = _fan_in(tuple(params["weight"].shape))
                out["bias"] = _uniform_spec(1 / math.sqrt(fan_in) if fan_in > 0 else 0)
        return out
    if isinstance(module, nn.Bilinear):
        bound = 1 / math.sqrt(params["weight"].shape[1])
        return {name: _uniform_spec(bound) for name in params}
    if isinstance(module, (nn.Embedding, nn.EmbeddingBag)):
        return {"weight": _padded(_torch_spec(_dt.normal_), module.padding_idx)}
    if isinstance(module, _NORMS):
        return {name: (_ONES if name == "weight" else _ZEROS) for name in params}
    if isinstance(module, nn.MultiheadAttention):
        out = {}
        for name in params:
            if name.endswith("proj_weight"):
                out[name] = _torch_spec(_dt.xavier_uniform_)
            elif name in ("bias_k", "bias_v"):
                out[name] = _torch_spec(_dt.xavier_normal_)
            else:
                out[name] = _ZEROS
        if module.in_proj_bias is not None and module.out_proj.bias is not None:
            out["out_proj.bias"] = _ZEROS
        return out
    if isinstance(module, _RNNS):
        stdv = 1.0 / math.sqrt(module.hidden_size) if module.hidden_size > 0 else 0
        return {name: _uniform_spec(stdv) for name in params}
    if isinstance(module, nn.PReLU):
        return {"weight": _Spec(f"constant_({module.init})",
                                lambda shape, seed: _const(module.init))}
    if isinstance(module, nn.Transformer):
        # nn.Transformer._reset_parameters: xavier_uniform_ on every matrix below it.
        return {name: _torch_spec(_dt.xavier_uniform_)
                for name, p in module.named_parameters() if p.dim() > 1}
    if not params:
        return {}
    return None


def _normal_rules(module, std):
    """The language-model scheme: N(0, std) matrices and embeddings, zero biases."""
    params = dict(_direct(module))
    normal = _torch_spec(_dt.normal_, 0.0, std)
    if isinstance(module, (nn.Linear, nn.Bilinear) + _CONVS):
        return {name: (normal if name == "weight" else _ZEROS) for name in params}
    if isinstance(module, (nn.Embedding, nn.EmbeddingBag)):
        return {"weight": _padded(normal, module.padding_idx)}
    if isinstance(module, _NORMS):
        return {name: (_ONES if name == "weight" else _ZEROS) for name in params}
    if isinstance(module, nn.MultiheadAttention):
        out = {name: (normal if (name.endswith("proj_weight") or name in ("bias_k", "bias_v"))
                      else _ZEROS) for name in params}
        if module.out_proj.bias is not None:
            out["out_proj.bias"] = _ZEROS
        return out
    if isinstance(module, _RNNS):
        return {name: (normal if name.startswith("weight") else _ZEROS) for name in params}
    if isinstance(module, nn.PReLU):
        return {"weight": _Spec(f"constant_({module.init})",
                                lambda shape, seed: _const(module.init))}
    if not params:
        return {}
    return None


# Buffers torch's reset_parameters/reset_running_stats gives values to.
def _buffer_rules(module):
    if isinstance(module, nn.modules.batchnorm._NormBase) and module.track_running_stats:
        return {"running_mean": 0, "running_var": 1, "num_batches_tracked": 0}
    return {}


# --------------------------------------------------------------------------------------
# User rules
# --------------------------------------------------------------------------------------
def _torch_named(name):
    return getattr(_dt, name) if name in _TORCH_NAMES else None


_TORCH_NAMES = {
    "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_", "dirac_",
    "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
    "orthogonal_", "sparse_",
}


def _keras_spec(init, fans):
    from densekit.initializers.random_initializers import RandomInitializer

    def make(shape, seed):
        new = init
        if isinstance(init, RandomInitializer):
            config = dict(init.get_config())
            config["seed"] = seed % 2**64
            new = type(init).from_config(config)
        return _dt.with_fans(new, fans)

    return _Spec(repr(init), make)


def _resolve_spec(value, fans, key):
    """A user rule's value as a _Spec (None: leave the parameter alone)."""
    if value is None or isinstance(value, _Spec):
        return value
    func, args, kwargs = value, (), {}
    if isinstance(value, functools.partial):
        func, args, kwargs = value.func, value.args, dict(value.keywords)
    if callable(func) and not isinstance(func, type) and getattr(func, "__name__", None):
        name = func.__name__
        own = _torch_named(name)
        if own is not None and (func is own or getattr(nn.init, name, None) is func):
            return _torch_spec(own, *args, **kwargs)
    if isinstance(value, str):
        own = _torch_named(value)
        if own is not None:
            return _torch_spec(own)
    from densekit import initializers

    try:
        init = initializers.get(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"Argument `rules` maps {key!r} to {value!r}, which is neither a densekit "
            f"initializer (Keras-named) nor a torch-named function of densekit.torch "
            f"(e.g. 'xavier_uniform_', functools.partial(densekit.torch.normal_, std=0.02)). "
            f"({exc})"
        ) from None
    if not isinstance(init, initializers.Initializer):
        raise ValueError(
            f"Argument `rules` maps {key!r} to a callable that is not an initializer: "
            f"{value!r}. Use a densekit initializer or a torch-named function of "
            f"densekit.torch (functools.partial for its arguments)."
        )
    return _keras_spec(init, fans)


def _check_rules(rules, fans):
    if rules is None:
        return []
    if not isinstance(rules, collections.abc.Mapping):
        raise TypeError(f"Argument `rules` must be a mapping or None. Received: rules={rules!r}")
    out = []
    for key, value in rules.items():
        if isinstance(key, type) and issubclass(key, nn.Module):
            if isinstance(value, collections.abc.Mapping):
                value = {k: _resolve_spec(v, fans, key) for k, v in value.items()}
            else:
                value = _resolve_spec(value, fans, key)
        elif isinstance(key, (str, re.Pattern)):
            value = _resolve_spec(value, fans, key)
        else:
            raise TypeError(
                "Argument `rules` must have str (fnmatch pattern), re.Pattern or "
                f"nn.Module subclass keys. Received key {key!r}"
            )
        out.append((key, value))
    return out


def _user_rule(rules, fqn, local, owner):
    """The first rule matching parameter `fqn` (owned by `owner` as `local`): (found, spec)."""
    for key, value in rules:
        if isinstance(key, str):
            if fnmatch.fnmatchcase(fqn, key):
                return True, value
        elif isinstance(key, re.Pattern):
            if key.fullmatch(fqn):
                return True, value
        elif isinstance(owner, key):
            if isinstance(value, dict):
                for pattern, spec in value.items():
                    if fnmatch.fnmatchcase(local, pattern):
                        return True, spec
            else:
                return True, value
    return False, None


# --------------------------------------------------------------------------------------
# The plan
# --------------------------------------------------------------------------------------
Entry = collections.namedtuple("Entry", ["name", "tensor", "spec"])


def _check_scheme(scheme, std):
    if scheme not in ("torch", "normal"):
        raise ValueError(
            f"Argument `scheme` must be 'torch' or 'normal'. Received: scheme={scheme!r}"
        )
    if isinstance(std, bool) or not isinstance(std, numbers.Real) or not (
        math.isfinite(std) and std > 0
    ):
        raise ValueError(f"Argument `std` must be a positive finite number. Received: std={std!r}")


def _plan(module, scheme, rules, std, fans):
    """Return (entries, buffer constants, fallbacks): each parameter once (ties under
    their first name), with its spec; modules with parameters and no rule."""
    if not isinstance(module, nn.Module):
        raise TypeError(
            f"Argument `module` must be a torch.nn.Module. Received: type {type(module).__name__}"
        )
    _check_scheme(scheme, std)
    if fans not in ("torch", "keras"):
        raise ValueError(f"Argument `fans` must be 'keras' or 'torch'. Received: fans={fans!r}")
    rules = _check_rules(rules, fans)
    first_name = {}
    for name, p in module.named_parameters(remove_duplicate=True):
        first_name.setdefault(id(p), name)
    owners = {}  # id(param) -> (module name, module, local name)
    modules = list(module.named_modules(remove_duplicate=True))
    for mname, mod in modules:
        for local, p in _direct(mod):
            owners.setdefault(id(p), (mname, mod, local))

    scheme_specs = {}
    unknown = {}
    # Children first, parents after, so that a parent's rule for its children
    # (MultiheadAttention's out_proj.bias, nn.Transformer's xavier) wins.
    for mname, mod in reversed(modules):
        found = _torch_rules(mod) if scheme == "torch" else _normal_rules(mod, std)
        if found is None:
            unknown[mname] = mod
            continue
        for rel, spec in found.items():
            p = mod.get_parameter(rel)
            scheme_specs[id(p)] = spec

    entries = []
    uncovered = collections.OrderedDict()
    for name, p in module.named_parameters(remove_duplicate=True):
        mname, owner, local = owners[id(p)]
        matched, spec = _user_rule(rules, name, local, owner)
        if not matched:
            spec = scheme_specs.get(id(p))
            if spec is None:
                uncovered.setdefault(mname, owner)
                continue
        if spec is not None:
            entries.append(Entry(name, p, spec))
    buffers = []
    for mname, mod in modules:
        for bname, value in _buffer_rules(mod).items():
            b = mod._buffers.get(bname)
            if b is not None:
                buffers.append((f"{mname}.{bname}" if mname else bname, mod, bname, value))
    return entries, buffers, uncovered


def _report_fallbacks(uncovered, report, seed, run):
    """Run (or list) the own reset_parameters of the modules without a rule; warn."""
    records = []
    for mname, mod in uncovered.items():
        reset = getattr(mod, "reset_parameters", None)
        if callable(reset):
            action = "reset_parameters"
            if run:
                # torch's RNG, seeded from (seed, module name): reproducible too.
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(param_seed(seed, mname or "<root>") % 2**63)
                    reset()
        else:
            action = "left unchanged (no reset_parameters)"
        records.append(Fallback(mname, type(mod).__name__, action))
    if records:
        listing = "; ".join(f"{r.module or '<root>'} ({r.type}): {r.action}" for r in records)
        warnings.warn(
            f"densekit.torch has no rule for these modules' own parameters: {listing}. "
            "Give them `rules` to have densekit initialize them.",
            FallbackWarning,
            stacklevel=3,
        )
    if report is not None:
        report.extend(records)
    return records


def _resolve_module_seed(seed):
    return _dt._resolve_seed(seed, None)


def init_module_(module, *, seed=None, scheme="torch", rules=None, std=0.02, fans="torch",
                 n_threads=None, report=None):
    """Initialize every parameter of a module tree in place; return the module.

    Parameters
    ----------
    module : torch.nn.Module
        Its parameters are CPU tensors (float32, float64, float16 or bfloat16,
        written directly) or DTensors (FSDP2, tensor parallel: each rank fills
        exactly its slice of the unsharded result). Meta tensors are refused:
        use :func:`materialize_`.
    seed : int or None
        Every parameter's seed is ``param_seed(seed, name)`` (:func:`param_seed`),
        `name` its fully qualified name: its bytes depend only on (seed, name,
        shape, rule), not on construction order, other modules, the rank or the
        process count. None draws `seed` from torch's default generator, so
        ``torch.manual_seed`` makes it reproducible (not allowed for DTensor
        parameters, where every rank must pass the same int).
    scheme : {"torch", "normal"}, default "torch"
        ``"torch"``: the distributions of torch's own ``reset_parameters``:
        Linear, Conv*/ConvTranspose* (kaiming_uniform with a=sqrt(5), bias
        U(-1/sqrt(fan_in), 1/sqrt(fan_in))), Bilinear, Embedding/EmbeddingBag
        (N(0, 1), padding row zero), LayerNorm, RMSNorm, GroupNorm,
        BatchNorm/InstanceNorm (ones, zeros, running statistics reset),
        MultiheadAttention (xavier_uniform in_proj, zero biases), RNN/LSTM/GRU
        and their cells (U(-1/sqrt(hidden), 1/sqrt(hidden))), PReLU, and
        nn.Transformer (xavier_uniform on every matrix); Transformer layers are
        built from these. ``"normal"``: N(0, `std`) for the weights of Linear,
        Conv, Bilinear, Embedding, MultiheadAttention and RNN modules, zero
        biases, ones/zeros for norms, padding row zero.
    rules : mapping or None
        Applied before the scheme, the first match winning. Keys: a str is an
        ``fnmatch`` pattern on the fully qualified parameter name
        (``"*.attn.*.weight"``), a compiled ``re.Pattern`` is matched with
        ``fullmatch``, an ``nn.Module`` subclass matches the parameters that
        modules of that type own (its value may then be a dict from local name
        patterns to initializers). Values: a densekit initializer or name
        (``"he_normal"``; Keras-named initializers are reseeded per parameter and
        read fans as `fans` says), a torch-named function of this module or of
        ``torch.nn.init`` (``"xavier_uniform_"``, ``functools.partial(normal_,
        std=0.02)``), or None to leave the parameter as it is.
    std : float, default 0.02
        The standard deviation of ``scheme="normal"``.
    fans : {"torch", "keras"}, default "torch"
        Fan rules of Keras-named variance-scaling initializers in `rules` (see
        :func:`fill_`): torch's ``(out, in, *kernel)`` by default.
    n_threads : int or None
        Sampling threads; the values do not depend on it.
    report : list or None
        If a list, a :class:`Fallback` ``(module, type, action)`` is appended for
        each module with parameters that no rule covers. Such a module's own
        ``reset_parameters`` is run (under ``torch.manual_seed`` derived from
        (seed, module name)), and a :class:`FallbackWarning` names it; none is
        ever skipped silently.

    Returns
    -------
    torch.nn.Module
        `module`.

    Notes
    -----
    Tied parameters (one Parameter under several names) are initialized once,
    under their first name in ``named_parameters()`` and with the rule of that
    name, and stay tied. Values equal densekit's arrays for the same
    initializers (they differ from torch's own draws; the distributions are the
    same, checked by two-sample KS tests against torch). Layers that torch
    builds as deep copies (``nn.TransformerEncoder``'s clones start out
    identical in torch) get independent values here, one seed per name.

    Examples
    --------
    >>> import torch
    >>> from densekit.torch import init_module_
    >>> model = torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.LayerNorm(4))
    >>> _ = init_module_(model, seed=0)
    >>> bool(model[0].weight.abs().max() <= 1 / 8 ** 0.5), bool((model[1].weight == 1).all())
    (True, True)
    """
    entries, buffers, uncovered = _plan(module, scheme, rules, std, fans)
    from densekit.torch import _dtensor

    if seed is None and any(_dtensor.is_dtensor(e.tensor) for e in entries):
        raise ValueError(
            "Argument `seed` must be an integer for a sharded (DTensor) module: every rank "
            "must use the same seed, and seed=None would draw one from each rank's own torch "
            "generator. Received: seed=None"
        )
    seed = _resolve_module_seed(seed)
    for e in entries:
        if e.tensor.is_meta:
            raise ValueError(
                f"Parameter {e.name!r} is on the meta device (no memory): use "
                "densekit.torch.materialize_(module, ...) to allocate and initialize it."
            )
    _report_fallbacks(uncovered, report, seed, run=True)
    with torch.no_grad():
        for e in entries:
            init = e.spec.make(tuple(e.tensor.shape), param_seed(seed, e.name))
            _dt._fill_with(e.tensor, init, n_threads)
        for _, mod, bname, value in buffers:
            mod._buffers[bname].fill_(value)
    return module


_HUGE_PAGE = 2 << 20
_MADV_HUGEPAGE = 14
_LIBC = []


def _advise_hugepages(tensor):
    """Ask Linux for transparent huge pages on a fresh tensor's memory (as numpy does
    for its own large arrays): with the common THP mode "madvise", torch's allocations
    otherwise fault in 4 KiB at a time, which costs about as much as sampling them."""
    if not sys.platform.startswith("linux"):
        return
    try:
        storage = tensor.untyped_storage()
        addr, nbytes = storage.data_ptr(), storage.nbytes()
    except (RuntimeError, NotImplementedError):  # pragma: no cover - exotic tensors
        return
    start = (addr + _HUGE_PAGE - 1) & ~(_HUGE_PAGE - 1)
    end = (addr + nbytes) & ~(_HUGE_PAGE - 1)
    if end - start < _HUGE_PAGE:
        return
    if not _LIBC:
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
            libc.madvise.restype = ctypes.c_int
        except (OSError, AttributeError):  # pragma: no cover - no libc madvise
            libc = None
        _LIBC.append(libc)
    if _LIBC[0] is not None:
        _LIBC[0].madvise(start, end - start, _MADV_HUGEPAGE)  # advice only: errors ignored


def _meta_tensors(module):
    for mod in module.modules():
        for key, p in mod._parameters.items():
            if p is not None and p.is_meta:
                yield mod, key, p, True
        for key, b in mod._buffers.items():
            if b is not None and b.is_meta:
                yield mod, key, b, False


def materialize_(module, device="cpu", **init_module_args):
    """Allocate the meta-device tensors of `module` on `device` and initialize them.

    For a model built under ``torch.device("meta")`` (no memory for its weights):
    each tensor is allocated empty and then filled in place by
    :func:`init_module_` (``init_module_args``: `seed`, `scheme`, `rules`, ...),
    so peak memory is the parameters plus a small constant. Tied parameters
    stay tied (one tensor per Parameter, however many names it has), buffers
    that torch's ``reset_parameters`` defines (BatchNorm statistics) are set,
    and modules without a rule run their own ``reset_parameters`` (see
    `report`). A meta buffer that nothing defines is reported in the warning
    and in `report` ("buffer ... left uninitialized"): set it yourself.
    DTensor parameters (a meta model after ``fully_shard``) are allocated with
    ``module.to_empty(device=device)`` (FSDP2's own path), then filled shard by
    shard. Returns `module`.

    Examples
    --------
    >>> import torch
    >>> from densekit.torch import materialize_
    >>> with torch.device("meta"):
    ...     model = torch.nn.Linear(1000, 1000)
    >>> model = materialize_(model, seed=0)
    >>> model.weight.device.type, model.weight.is_meta
    ('cpu', False)
    """
    if not isinstance(module, nn.Module):
        raise TypeError(
            f"Argument `module` must be a torch.nn.Module. Received: type {type(module).__name__}"
        )
    device = torch.device(device)
    if device.type != "cpu":
        raise ValueError(
            "Argument `device` must be a CPU device (densekit samples into host memory; "
            f"move the model with .to() afterwards). Received: device={device}"
        )
    found = list(_meta_tensors(module))
    known = set()
    for mname, mod in module.named_modules():
        for bname in _buffer_rules(mod):
            known.add((id(mod), bname))
    from densekit.torch import _dtensor

    if any(_dtensor.is_dtensor(t) for _, _, t, _ in found):
        module.to_empty(device=device)
        for t in list(module.parameters()) + list(module.buffers()):
            _advise_hugepages(t.to_local() if _dtensor.is_dtensor(t) else t)
    else:
        memo = {}
        for mod, key, t, is_param in found:
            new = memo.get(id(t))
            if new is None:
                new = torch.empty_like(t, device=device)
                _advise_hugepages(new)
                if is_param:
                    new = nn.Parameter(new, requires_grad=t.requires_grad)
                memo[id(t)] = new
            (mod._parameters if is_param else mod._buffers)[key] = new
    uninitialized = [
        (mod, key) for mod, key, t, is_param in found
        if not is_param and (id(mod), key) not in known
    ]
    report = init_module_args.pop("report", None)
    records = []
    init_module_(module, report=records, **init_module_args)
    if uninitialized:
        names = {id(m): n for n, m in module.named_modules()}
        extra = [Fallback(names.get(id(m), "?"), type(m).__name__,
                          f"buffer {key} left uninitialized") for m, key in uninitialized]
        warnings.warn(
            "materialize_ allocated these meta buffers, which no rule defines, without "
            "values: " + "; ".join(f"{r.module}.{r.action.split()[1]} ({r.type})" for r in extra),
            FallbackWarning,
            stacklevel=2,
        )
        records.extend(extra)
    if report is not None:
        report.extend(records)
    return module


# --------------------------------------------------------------------------------------
# save_initialized
# --------------------------------------------------------------------------------------
_TORCH_TO_NP = {
    torch.float32: np.dtype(np.float32),
    torch.float64: np.dtype(np.float64),
    torch.float16: np.dtype(np.float16),
}


def _np_dtype(tdtype):
    if tdtype == torch.bfloat16:
        from densekit.initializers._layout import bfloat16_dtype

        return bfloat16_dtype()
    if tdtype in _TORCH_TO_NP:
        return _TORCH_TO_NP[tdtype]
    if tdtype == torch.int64:
        return np.dtype(np.int64)
    raise TypeError(f"save_initialized cannot write dtype {tdtype}")


def _resolve_save_dtype(dtype):
    if dtype is None:
        return None
    if isinstance(dtype, torch.dtype):
        if dtype not in (torch.float32, torch.float64, torch.float16, torch.bfloat16):
            raise TypeError(
                "Argument `dtype` must be float32, float64, float16 or bfloat16. "
                f"Received: dtype={dtype!r}"
            )
        return _np_dtype(dtype)
    from densekit.initializers._layout import resolve_dtype

    return resolve_dtype(dtype)


class _Copy:
    """The current values of a real (non-meta) tensor, for buffers without a rule."""

    def __init__(self, array):
        self._array = array

    def __call__(self, shape, dtype=None, *, out=None, n_threads=None):
        return self.block(shape, (), dtype, out=out)

    def block(self, shape, index, dtype=None, *, out=None, n_threads=None):
        values = self._array[index]
        if out is None:
            return np.array(values, dtype=dtype, copy=True)
        out[...] = values
        return out


def _shape_plan(shapes, scheme, rules, std, fans):
    """Tensors of a {name: shape or (shape, dtype)} mapping: rules first; then for
    scheme="normal", N(0, std) for tensors of 2+ dimensions, zeros for names ending
    in "bias", ones for other 1-D tensors (norm weights)."""
    _check_scheme(scheme, std)
    rules = _check_rules(rules, fans)
    out, missing = [], []
    for name, value in shapes.items():
        if not isinstance(name, str):
            raise TypeError(f"Argument `module_or_shapes` must have str keys. Received {name!r}")
        dtype = torch.float32
        if (isinstance(value, tuple) and len(value) == 2 and not isinstance(value[1], int)
                and isinstance(value[1], (torch.dtype, str, np.dtype, type))):
            value, dtype = value
        shape = tuple(int(d) for d in ((value,) if isinstance(value, int) else value))
        matched, spec = _user_rule([(k, v) for k, v in rules if not isinstance(k, type)],
                                   name, name.rpartition(".")[2], None)
        if not matched:
            if scheme == "normal":
                if len(shape) >= 2:
                    spec = _torch_spec(_dt.normal_, 0.0, std)
                elif name.endswith("bias"):
                    spec = _ZEROS
                else:
                    spec = _ONES
            else:
                missing.append(name)
                continue
        if spec is None:
            raise ValueError(
                f"Argument `rules` maps {name!r} to None (leave as is): a file has no "
                "previous values to keep."
            )
        out.append((name, shape, dtype, spec))
    if missing:
        raise ValueError(
            "A {name: shape} mapping names no module types, which scheme='torch' needs: "
            "use scheme='normal', or give `rules` for these names: " + ", ".join(missing)
        )
    return out


def save_initialized(module_or_shapes, path, *, seed, scheme="torch", rules=None, std=0.02,
                     fans="torch", max_shard_size=None, dtype=None, progress=None,
                     overwrite=False, fsync=False, chunk_bytes=None, n_threads=None):
    """Write a model's initial state to safetensors, block by block, without the model.

    The file holds exactly what :func:`init_module_` (same `seed`, `scheme`,
    `rules`, `std`, `fans`) puts in a real model, bit for bit, generated through
    :mod:`densekit.io`'s chunked writer: ``2 * chunk_bytes`` of buffers whatever the
    model's size, a temporary file renamed into place only when complete, a
    progress bar. A 7B-parameter model built on the meta device needs no 28 GB
    of RAM for its seed checkpoint.

    Parameters
    ----------
    module_or_shapes : torch.nn.Module or mapping
        A module (typically built under ``torch.device("meta")``), or a mapping
        ``{name: shape}`` (or ``{name: (shape, dtype)}``), whose tensors follow
        `rules` and, with ``scheme="normal"``, N(0, std) for 2+ dimensions, zeros
        for names ending in ``bias`` and ones for other 1-D tensors.
    path : str or os.PathLike
        A ``.safetensors`` path. With shards, ``name-00001-of-0000N.safetensors``
        files and ``name.safetensors.index.json`` (Hugging Face's layout:
        ``{"metadata": {"total_size": ...}, "weight_map": {tensor: file}}``)
        are written beside it instead.
    seed : int
        As in :func:`init_module_` (required: a file should be reproducible).
    scheme, rules, std, fans
        As in :func:`init_module_`. Modules no rule covers are an error here
        (their ``reset_parameters`` needs the tensors).
    max_shard_size : int, str or None
        Bytes per file (``"5GB"``, ``"500MiB"`` as Hugging Face writes them), or
        None for one file. A tensor larger than this gets a file of its own.
    dtype : dtype or None
        Store every floating tensor in this dtype (``"bfloat16"``); None keeps
        each parameter's dtype.
    progress, overwrite, fsync, chunk_bytes, n_threads
        As in :func:`densekit.io.initialize_file`.

    Returns
    -------
    list of str
        The files written (the index last, when sharded).

    Notes
    -----
    Tied parameters are stored once, under their first name (as
    ``safetensors.torch.save_model`` does); persistent buffers are stored
    (BatchNorm statistics with their reset values; other buffers of a
    non-meta module with their current values).

    Examples
    --------
    >>> import os, tempfile, torch
    >>> from safetensors.torch import load_file
    >>> from densekit.torch import init_module_, save_initialized
    >>> with torch.device("meta"):
    ...     meta = torch.nn.Linear(64, 32)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.safetensors")
    >>> _ = save_initialized(meta, path, seed=0, progress=False)
    >>> real = init_module_(torch.nn.Linear(64, 32), seed=0)
    >>> bool(torch.equal(load_file(path)["weight"], real.weight))
    True
    """
    from densekit import io

    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(
            f"Argument `seed` must be a non-negative integer. Received: seed={seed!r}"
        )
    target_dtype = _resolve_save_dtype(dtype)
    tensors = []  # (name, shape, numpy dtype, initializer)
    if isinstance(module_or_shapes, nn.Module):
        entries, buffers, uncovered = _plan(module_or_shapes, scheme, rules, std, fans)
        if uncovered:
            listing = ", ".join(f"{n or '<root>'} ({type(m).__name__})"
                                for n, m in uncovered.items())
            raise ValueError(
                "save_initialized has no rule for these modules' parameters (their own "
                f"reset_parameters needs real tensors): {listing}. Give them `rules`."
            )
        for e in entries:
            shape = tuple(e.tensor.shape)
            tensors.append((e.name, shape, _np_dtype(e.tensor.dtype),
                            e.spec.make(shape, param_seed(seed, e.name))))
        known = {}
        for fqn, mod, bname, value in buffers:
            known[fqn] = value
        state_buffers = [
            (name, b) for name, b in module_or_shapes.named_buffers(remove_duplicate=True)
            if name.rpartition(".")[2] not in _non_persistent(module_or_shapes, name)
        ]
        for name, b in state_buffers:
            shape = tuple(b.shape)
            np_dtype = _np_dtype(b.dtype)
            if name in known:
                init = _const(known[name]) if np_dtype.kind == "f" else _IntConst(known[name])
            elif not b.is_meta:
                init = _Copy(_dt._numpy_view(b.detach().cpu()) if np_dtype.kind == "f"
                             else b.detach().cpu().numpy())
            else:
                raise ValueError(
                    f"Buffer {name!r} is on the meta device and no rule defines its values."
                )
            tensors.append((name, shape, np_dtype, init))
    elif isinstance(module_or_shapes, collections.abc.Mapping):
        for name, shape, tdtype, spec in _shape_plan(module_or_shapes, scheme, rules, std, fans):
            np_dtype = (_np_dtype(tdtype) if isinstance(tdtype, torch.dtype)
                        else _resolve_save_dtype(tdtype))
            tensors.append((name, shape, np_dtype, spec.make(shape, param_seed(seed, name))))
    else:
        raise TypeError(
            "Argument `module_or_shapes` must be a torch.nn.Module or a {name: shape} "
            f"mapping. Received: type {type(module_or_shapes).__name__}"
        )
    if target_dtype is not None:
        tensors = [(n, s, target_dtype if d.kind in "fV" else d, i) for n, s, d, i in tensors]
    kwargs = {}
    if chunk_bytes is not None:
        kwargs["chunk_bytes"] = chunk_bytes
    return io._write_safetensors(path, tensors, max_shard_size=max_shard_size, progress=progress,
                                overwrite=overwrite, fsync=fsync, n_threads=n_threads,
                                metadata={"format": "pt"}, **kwargs)


class _IntConst:
    def __init__(self, value):
        self.value = value

    def __call__(self, shape, dtype=None, *, out=None, n_threads=None):
        return self.block(shape, (), dtype, out=out)

    def block(self, shape, index, dtype=None, *, out=None, n_threads=None):
        if out is None:
            return np.full(np.empty(shape, dtype=np.int8)[index].shape, self.value, dtype=dtype)
        out[...] = self.value
        return out


def _non_persistent(root, name):
    owner = root.get_submodule(name.rpartition(".")[0]) if "." in name else root
    return owner._non_persistent_buffers_set
