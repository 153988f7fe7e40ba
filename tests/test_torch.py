"""densekit.torch: in-place fills equal densekit's arrays; torch names match torch.nn.init.

CI installs the CPU build of torch (.ci/run), so these run there.
"""

import math
import subprocess
import sys
import warnings

import ml_dtypes
import numpy as np
import pytest
from scipy import stats

torch = pytest.importorskip("torch")

import densekit.torch as dt  # noqa: E402
from densekit import initializers  # noqa: E402

BF16 = np.dtype(ml_dtypes.bfloat16)
TORCH_DTYPES = {
    torch.float32: np.dtype(np.float32),
    torch.float64: np.dtype(np.float64),
    torch.float16: np.dtype(np.float16),
    torch.bfloat16: BF16,
}
KS_FLOOR = 1e-3


def _bits(t):
    if t.dtype == torch.bfloat16:
        return t.reshape(-1).view(torch.int16).numpy().view(np.uint16)
    return t.reshape(-1).numpy().view(np.uint8)


def _same_bits(t, arr):
    assert tuple(t.shape) == arr.shape
    np.testing.assert_array_equal(_bits(t), np.ascontiguousarray(arr).reshape(-1).view(
        np.uint16 if arr.dtype == BF16 else np.uint8))


def _values(t):
    return t.detach().to(torch.float64).numpy().reshape(-1)


# ---------------------------------------------------------------------------- fill_
@pytest.mark.parametrize("tdtype", list(TORCH_DTYPES), ids=str)
def test_fill_in_place_equals_numpy(tdtype, n_threads):
    init = initializers.HeNormal(seed=3)
    t = torch.empty(37, 53, dtype=tdtype)
    ptr = t.data_ptr()
    out = dt.fill_(t, init, n_threads=n_threads)
    assert out is t and t.data_ptr() == ptr
    _same_bits(t, init((37, 53), TORCH_DTYPES[tdtype]))


def test_fill_any_shape_and_views():
    init = initializers.RandomUniform(seed=1)
    for shape in [(), (7,), (2, 3, 4, 5), (0, 3)]:
        t = torch.empty(shape)
        dt.fill_(t, init)
        _same_bits(t, init(shape))
    # A contiguous view with an offset: only its part of the storage is written.
    base = torch.zeros(10, 6)
    dt.fill_(base[2:5], "ones")
    assert base[2:5].eq(1).all() and base[:2].eq(0).all() and base[5:].eq(0).all()


def test_fill_parameter_that_requires_grad():
    p = torch.nn.Parameter(torch.empty(20, 10))
    dt.fill_(p, initializers.GlorotUniform(seed=0))
    assert p.requires_grad and p.grad_fn is None and p.is_leaf
    _same_bits(p.detach(), initializers.GlorotUniform(seed=0)((20, 10)))
    # Like torch's in-place ops, the fill bumps the version counter, so autograd
    # notices a tensor that was saved for backward and then overwritten.
    x = torch.ones(3, requires_grad=True)
    w = torch.zeros(3)
    y = (x * w).sum()  # saves w for backward
    version = w._version
    dt.fill_(w, "ones")
    assert w._version > version
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()
    for fn in (dt.trunc_normal_, dt.kaiming_normal_):
        t = torch.empty(20, 10)
        version = t._version
        fn(t, std=0.02, seed=0) if fn is dt.trunc_normal_ else fn(t, seed=0)
        assert t._version > version
    # The parameter still trains normally afterwards.
    (p * 2).sum().backward()
    assert p.grad.eq(2).all()


def test_fill_errors():
    init = initializers.Ones()
    with pytest.raises(TypeError, match="dtype float32, float64, float16 or bfloat16"):
        dt.fill_(torch.empty(3, dtype=torch.int32), init)
    with pytest.raises(TypeError, match="dtype float32"):
        dt.fill_(torch.empty(3, dtype=torch.complex64), init)
    t = torch.zeros(4, 6)
    with pytest.raises(ValueError, match="contiguous"):
        dt.fill_(t.T, init)
    with pytest.raises(ValueError, match="contiguous"):
        dt.fill_(t[:, ::2], init)
    assert t.eq(0).all()
    with pytest.raises(ValueError, match="on the CPU"):
        dt.fill_(torch.empty(3, device="meta"), init)
    with pytest.raises(ValueError, match="dense"):
        dt.fill_(torch.zeros(3, 3).to_sparse(), init)
    with pytest.raises(TypeError, match="torch.Tensor"):
        dt.fill_(np.zeros(3), init)
    with pytest.raises(ValueError, match="Could not interpret initializer identifier"):
        dt.fill_(t, "he_normall")


# ---------------------------------------------------------------------------- torch's rules
def test_calculate_gain_matches_torch():
    for name in ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                 "conv_transpose2d", "conv_transpose3d", "sigmoid", "tanh", "relu", "selu"]:
        assert dt.calculate_gain(name) == torch.nn.init.calculate_gain(name)
    for param in [None, 0, 0.2, 1, 3.5]:
        assert dt.calculate_gain("leaky_relu", param) == torch.nn.init.calculate_gain(
            "leaky_relu", param)
    with pytest.raises(ValueError, match="Unsupported nonlinearity foo"):
        dt.calculate_gain("foo")
    with pytest.raises(ValueError, match="not a valid number"):
        dt.calculate_gain("leaky_relu", "x")


@pytest.mark.parametrize("shape", [(5, 3), (8, 4, 3), (16, 8, 3, 5), (2, 3, 4, 5, 6), (7, 1)])
def test_fans_match_torch(shape):
    t = torch.empty(shape)
    assert dt._calculate_fan_in_and_fan_out(t) == torch.nn.init._calculate_fan_in_and_fan_out(t)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        dt._calculate_fan_in_and_fan_out(torch.empty(5))


# ---------------------------------------------------------------------------- distributions
CONV = (64, 48, 6, 6)  # 110592 values: fan_in 1728, fan_out 2304 (Keras' would differ)


def _ks(ours, theirs):
    return stats.ks_2samp(_values(ours), _values(theirs)).pvalue


def _std_close(t, expected):
    x = _values(t)
    # Standard error of a sample std is about std / sqrt(2n) (normal); uniform is tighter.
    assert abs(x.std() / expected - 1) < 5 / math.sqrt(2 * x.size), (x.std(), expected)


CASES = [
    ("uniform_", dict(a=-1.0, b=3.0), None),
    ("normal_", dict(mean=0.5, std=2.0), None),
    ("xavier_uniform_", dict(gain=1.5), lambda fi, fo: 1.5 * math.sqrt(2 / (fi + fo))),
    ("xavier_normal_", dict(), lambda fi, fo: math.sqrt(2 / (fi + fo))),
    ("kaiming_uniform_", dict(), lambda fi, fo: math.sqrt(2) / math.sqrt(fi)),
    ("kaiming_uniform_", dict(a=math.sqrt(5)),
     lambda fi, fo: torch.nn.init.calculate_gain("leaky_relu", math.sqrt(5)) / math.sqrt(fi)),
    ("kaiming_normal_", dict(mode="fan_out", nonlinearity="relu"),
     lambda fi, fo: math.sqrt(2) / math.sqrt(fo)),
    ("kaiming_normal_", dict(nonlinearity="tanh"), lambda fi, fo: 5 / 3 / math.sqrt(fi)),
    ("kaiming_normal_", dict(a=0.2), lambda fi, fo: math.sqrt(2 / 1.04) / math.sqrt(fi)),
]


@pytest.mark.parametrize("name, kwargs, std", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_matches_torch_distribution_and_fans(name, kwargs, std):
    ours = getattr(dt, name)(torch.empty(CONV), seed=0, **kwargs)
    torch.manual_seed(0)
    theirs = getattr(torch.nn.init, name)(torch.empty(CONV), **kwargs)
    assert _ks(ours, theirs) > KS_FLOOR
    if std is not None:
        fan_in, fan_out = 48 * 36, 64 * 36
        _std_close(ours, std(fan_in, fan_out))
        _std_close(theirs, std(fan_in, fan_out))


def test_kaiming_normal_is_untruncated_like_torch():
    t = dt.kaiming_normal_(torch.empty(400, 250), seed=1)
    std = math.sqrt(2) / math.sqrt(250)
    # A normal exceeds 3.5 std about 50 times in 1e5 draws; a 2-std truncation never.
    assert (_values(t) / std).max() > 3.5
    # It is densekit's untruncated normal with torch's std.
    _same_bits(t, initializers.RandomNormal(0.0, std, seed=1)((400, 250)))


@pytest.mark.parametrize(
    "kwargs, path",
    [(dict(), "kernel"),                                   # +-2 std: densekit's kernel
     (dict(mean=1.0, std=0.5, a=0.0, b=2.0), "kernel"),    # mean +- 2 std again
     (dict(std=0.02), "reject"),                           # timm's call: +-2 is +-100 std
     (dict(mean=0.0, std=1.0, a=-1.0, b=1.5), "reject"),   # 77% accepted, many redraws
     (dict(mean=0.0, std=1.0, a=0.5, b=1.0), "icdf"),      # 15% accepted
     (dict(mean=0.0, std=1.0, a=3.0, b=5.0), "icdf")],     # far tail
)
def test_trunc_normal_matches_torch(kwargs, path):
    shape = (400, 250)
    ours = dt.trunc_normal_(torch.empty(shape), seed=0, **kwargs)
    torch.manual_seed(0)
    with warnings.catch_warnings():
        # torch warns when the mean is more than 2 std outside [a, b] (the far-tail case).
        warnings.simplefilter("ignore", UserWarning)
        theirs = torch.nn.init.trunc_normal_(torch.empty(shape), **kwargs)
    a, b = kwargs.get("a", -2.0), kwargs.get("b", 2.0)
    x = _values(ours)
    assert x.min() >= a and x.max() <= b
    assert _ks(ours, theirs) > KS_FLOOR
    mean, std = kwargs.get("mean", 0.0), kwargs.get("std", 1.0)
    alpha, beta = (a - mean) / std, (b - mean) / std
    assert stats.kstest(x, stats.truncnorm(alpha, beta, loc=mean, scale=std).cdf).pvalue > KS_FLOOR
    if path == "kernel":
        _same_bits(ours, initializers.TruncatedNormal(mean, std, seed=0)(shape))


@pytest.mark.parametrize("a, b", [(10.0, 12.0), (-12.0, -10.0), (-30.0, -29.5)])
def test_trunc_normal_far_tails_are_exact(a, b):
    # torch's float32 inverse CDF collapses here; densekit samples the left tail in float64.
    x = _values(dt.trunc_normal_(torch.empty(100_000, dtype=torch.float64), a=a, b=b, seed=1))
    assert x.min() >= a and x.max() <= b
    assert stats.kstest(x, stats.truncnorm(a, b).cdf).pvalue > KS_FLOOR


def test_trunc_normal_half_precision_and_errors():
    t = dt.trunc_normal_(torch.empty(300, 400, dtype=torch.bfloat16), std=0.02, seed=4)
    x = _values(t)
    assert abs(x.std() / 0.02 - 1) < 0.02 and np.abs(x).max() <= 2
    with pytest.raises(ValueError, match="a < b"):
        dt.trunc_normal_(torch.empty(3), a=1.0, b=1.0)
    with pytest.raises(ValueError, match="std"):
        dt.trunc_normal_(torch.empty(3), std=0.0)
    with pytest.raises(ValueError, match="too far in the tail"):
        dt.trunc_normal_(torch.empty(3), a=50.0, b=51.0)


def test_orthogonal_matches_torch_semantics():
    for shape, gain in [((50, 30), 2.0), ((30, 50), 1.0), ((6, 4, 5), 0.5), ((8, 2, 2), 1.0)]:
        t = dt.orthogonal_(torch.empty(shape), gain=gain, seed=3)
        w = t.reshape(shape[0], -1).to(torch.float64)
        rows, cols = w.shape
        gram = w @ w.T if rows < cols else w.T @ w
        np.testing.assert_allclose(gram.numpy(), gain**2 * np.eye(min(rows, cols)), atol=1e-5)
    with pytest.raises(ValueError, match="2 or more dimensions"):
        dt.orthogonal_(torch.empty(5))


def test_constant_ones_zeros_eye_equal_torch():
    for ours, theirs in [
        (dt.constant_(torch.empty(3, 4), 0.3), torch.nn.init.constant_(torch.empty(3, 4), 0.3)),
        (dt.ones_(torch.empty(3, 4)), torch.nn.init.ones_(torch.empty(3, 4))),
        (dt.zeros_(torch.empty(3, 4)), torch.nn.init.zeros_(torch.empty(3, 4))),
        (dt.eye_(torch.empty(3, 5)), torch.nn.init.eye_(torch.empty(3, 5))),
        (dt.eye_(torch.empty(5, 3, dtype=torch.bfloat16)),
         torch.nn.init.eye_(torch.empty(5, 3, dtype=torch.bfloat16))),
    ]:
        assert torch.equal(ours, theirs)
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions"):
        dt.eye_(torch.empty(2, 2, 2))


@pytest.mark.parametrize("tdtype", list(TORCH_DTYPES), ids=str)
def test_torch_names_in_every_dtype(tdtype):
    t = dt.xavier_uniform_(torch.empty(40, 30, dtype=tdtype), seed=2)
    bound = math.sqrt(3.0) * (1.0 * math.sqrt(2.0 / float(40 + 30)))  # torch's arithmetic
    expected = initializers.RandomUniform(-bound, bound, seed=2)((40, 30), TORCH_DTYPES[tdtype])
    _same_bits(t, expected)


# ---------------------------------------------------------------------------- seeds
def test_seeds_follow_torch_manual_seed():
    torch.manual_seed(7)
    a = dt.kaiming_uniform_(torch.empty(30, 20))
    b = dt.kaiming_uniform_(torch.empty(30, 20))
    torch.manual_seed(7)
    c = dt.kaiming_uniform_(torch.empty(30, 20))
    assert torch.equal(a, c) and not torch.equal(a, b)
    g = torch.Generator().manual_seed(1)
    d = dt.normal_(torch.empty(10), generator=g)
    e = dt.normal_(torch.empty(10), generator=torch.Generator().manual_seed(1))
    assert torch.equal(d, e)
    f = dt.normal_(torch.empty(10), seed=11)
    _same_bits(f, initializers.RandomNormal(0.0, 1.0, seed=11)((10,)))
    with pytest.raises(ValueError, match="either `seed` or `generator`"):
        dt.normal_(torch.empty(10), generator=g, seed=1)
    with pytest.raises(ValueError, match="Argument `seed`"):
        dt.normal_(torch.empty(10), seed=-1)
    with pytest.raises(TypeError, match="torch.Generator"):
        dt.normal_(torch.empty(10), generator=3)


def test_meta_tensors_point_to_materialize():
    with pytest.raises(ValueError, match="meta device.*materialize_"):
        dt.fill_(torch.empty(3, 4, device="meta"), "ones")
    with pytest.raises(ValueError, match="meta device"):
        dt.normal_(torch.empty(3, 4, device="meta"), seed=0)


def test_torch_style_errors():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        dt.kaiming_normal_(torch.empty(5))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        dt.kaiming_normal_(torch.empty(5, 5), mode="fan_avg")
    with pytest.raises(TypeError, match="dtype float32"):
        dt.kaiming_normal_(torch.empty(5, 5, dtype=torch.int64))
    # Zero-element tensors are a no-op, as in torch, which says so with a UserWarning.
    for fn in (dt.kaiming_normal_, dt.kaiming_uniform_):
        with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
            assert fn(torch.empty(0, 5)).shape == (0, 5)


def test_missing_torch_names_the_extra():
    code = ("import sys; sys.modules['torch'] = None\n"
            "try:\n    import densekit.torch\nexcept ImportError as e:\n    print(e)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert "pip install 'densekit[torch]'" in res.stdout, res.stderr


# ---------------------------------------------------------------------------- dirac_, sparse_
@pytest.mark.parametrize("shape, groups", [((4, 3, 5), 1), ((6, 2, 3, 3), 3), ((4, 4, 1, 2, 3), 2),
                                           ((2, 5, 3), 1)])
def test_dirac_equals_torch(shape, groups):
    ours = dt.dirac_(torch.randn(shape), groups)
    theirs = torch.nn.init.dirac_(torch.randn(shape), groups)
    assert torch.equal(ours, theirs)
    # A convolution with it copies its input (each group's first min(out, in) channels).
    if len(shape) == 3 and groups == 1:
        x = torch.randn(2, shape[1], 9)
        y = torch.nn.functional.conv1d(x, ours, padding=shape[2] // 2)
        n = min(shape[0], shape[1])
        assert torch.equal(y[:, :n], x[:, :n])


def test_dirac_errors():
    for dims in (1, 2, 6):
        with pytest.raises(ValueError, match="Only tensors with 3, 4, or 5 dimensions"):
            dt.dirac_(torch.empty((2,) * dims))
    with pytest.raises(ValueError, match="dim 0 must be divisible by groups"):
        dt.dirac_(torch.empty(5, 2, 3), groups=2)


def test_sparse_columns_and_distribution():
    rows, cols, sparsity, std = 400, 300, 0.3, 0.05
    t = dt.sparse_(torch.empty(rows, cols), sparsity, std=std, seed=4)
    zeros = (t == 0).sum(dim=0)
    assert (zeros >= math.ceil(sparsity * rows)).all()
    assert (zeros <= math.ceil(sparsity * rows) + 2).all()  # exact zeros of N(0, s) are rare
    kept = t[t != 0].double().numpy()
    assert kept.size > 80_000
    assert stats.kstest(kept, "norm", args=(0, std)).pvalue > KS_FLOOR
    # The zero rows differ between columns, and the whole is reproducible.
    assert not torch.equal((t[:, 0] == 0), (t[:, 1] == 0))
    assert torch.equal(t, dt.sparse_(torch.empty(rows, cols), sparsity, std=std, seed=4))
    theirs = torch.nn.init.sparse_(torch.empty(rows, cols), sparsity, std=std)
    assert torch.equal((theirs == 0).sum(dim=0), torch.full((cols,), math.ceil(sparsity * rows)))
    for dims in (1, 3):
        with pytest.raises(ValueError, match="Only tensors with 2 dimensions"):
            dt.sparse_(torch.empty((3,) * dims), 0.5)


DEPRECATED = ["uniform", "normal", "constant", "eye", "dirac", "xavier_uniform", "xavier_normal",
              "kaiming_uniform", "kaiming_normal", "orthogonal", "sparse"]


@pytest.mark.parametrize("name", DEPRECATED)
def test_deprecated_names_warn_like_torch(name):
    assert hasattr(torch.nn.init, name)  # the same set of names as torch
    shape = (6, 3, 3) if name == "dirac" else (5, 5)
    args = {"constant": (0.5,), "sparse": (0.2,)}.get(name, ())
    kwargs = {} if name in ("constant", "eye", "dirac") else {"seed": 3}
    with pytest.warns(FutureWarning, match=rf"`nn.init.{name}` is now deprecated in favor of "
                                           rf"`nn.init.{name}_`"):
        old = getattr(dt, name)(torch.empty(shape), *args, **kwargs)
    new = getattr(dt, name + "_")(torch.empty(shape), *args, **kwargs)
    assert torch.equal(old, new)


def test_dirac_sparse_orthogonal_on_dtensor_like_paths():
    # The whole-tensor initializers give any block of the whole (used for DTensor shards
    # and files): initializer_for(...).block equals the filled tensor's slice.
    for fn, shape, args in [(dt.dirac_, (4, 2, 3), ()), (dt.sparse_, (20, 7), (0.3,)),
                            (dt.orthogonal_, (6, 2, 2), ()),
                            (dt.trunc_normal_, (30, 4), ())]:
        kwargs = {} if fn is dt.dirac_ else {"seed": 1}
        if fn is dt.trunc_normal_:
            kwargs["std"] = 0.3
        whole = fn(torch.empty(shape), *args, **kwargs).numpy()
        init = dt.initializer_for(fn, shape, *args, **kwargs)
        np.testing.assert_array_equal(init.block(shape, (slice(1, 3),)), whole[1:3])
