"""densekit.jax: jax.nn.initializers-style functions and sharded arrays.

The sharded cases need 4 CPU devices, which JAX creates only when
``XLA_FLAGS=--xla_force_host_platform_device_count=4`` is set before its CPU
backend starts. This module sets it around the first ``jax.devices()`` call;
if another test module already started the backend with fewer devices, the
sharded cases run again in a fresh ``pytest`` subprocess (one for all of them)
and each test here asserts its own outcome there.
"""

import doctest
import os
import subprocess
import sys
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from densekit import initializers

_FLAG = "--xla_force_host_platform_device_count=4"
_SUBPROCESS_ENV = "DENSEKIT_TEST_JAX_SUBPROCESS"


def _start_jax():
    old = os.environ.get("XLA_FLAGS")
    os.environ["XLA_FLAGS"] = f"{old} {_FLAG}" if old else _FLAG
    try:
        jax = pytest.importorskip("jax")
        devices = jax.devices("cpu")
    finally:
        if old is None:
            del os.environ["XLA_FLAGS"]
        else:
            os.environ["XLA_FLAGS"] = old
    return jax, devices


jax, _DEVICES = _start_jax()
jnp = pytest.importorskip("jax.numpy")
import densekit.jax as dkjax  # noqa: E402  (after the device flags)
from jax.sharding import Mesh, NamedSharding  # noqa: E402
from jax.sharding import PartitionSpec as P  # noqa: E402

HAVE_4_DEVICES = len(_DEVICES) >= 4
_subprocess_outcomes = None


def _outcomes_from_subprocess(tmp_dir):
    """Run this module's sharded tests in a fresh process with 4 CPU devices."""
    report = Path(tmp_dir) / "sharded.xml"
    env = dict(os.environ)
    env["XLA_FLAGS"] = f"{env['XLA_FLAGS']} {_FLAG}" if env.get("XLA_FLAGS") else _FLAG
    env[_SUBPROCESS_ENV] = "1"
    root = Path(__file__).resolve().parents[1]
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
           str(Path(__file__).resolve()), "-k", "sharded", f"--junitxml={report}"]
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    if not report.exists():
        raise AssertionError(f"the sharded subprocess did not run:\n{proc.stdout}\n{proc.stderr}")
    outcomes = {}
    for case in ET.parse(report).iter("testcase"):
        problems = [c for c in case if c.tag in ("failure", "error", "skipped")]
        outcomes[case.get("name")] = (
            "\n".join((p.get("message") or "") + "\n" + (p.text or "") for p in problems)
            or None
        )
    return outcomes


def _delegated(request, tmp_path_factory):
    """True when this sharded test ran (and passed) in the 4-device subprocess."""
    global _subprocess_outcomes
    if HAVE_4_DEVICES:
        return False
    assert not os.environ.get(_SUBPROCESS_ENV), "XLA_FLAGS did not give 4 CPU devices"
    if _subprocess_outcomes is None:
        _subprocess_outcomes = _outcomes_from_subprocess(tmp_path_factory.mktemp("jax"))
    name = request.node.name
    assert name in _subprocess_outcomes, f"{name} did not run in the subprocess"
    assert _subprocess_outcomes[name] is None, _subprocess_outcomes[name]
    return True


@pytest.fixture
def delegated(request, tmp_path_factory):
    return _delegated(request, tmp_path_factory)


def _mesh(shape, names):
    n = int(np.prod(shape))
    return Mesh(np.array(_DEVICES[:n]).reshape(shape), names)


# ---------------------------------------------------------------- seed_from_key


def test_seed_from_key_typed_and_raw_keys():
    assert dkjax.seed_from_key(jax.random.key(42)) == 42
    assert dkjax.seed_from_key(jax.random.PRNGKey(42)) == 42
    assert dkjax.seed_from_key(jax.random.key(2**32 - 1)) == 2**32 - 1
    assert dkjax.seed_from_key(jax.random.key(0)) == 0
    # rbg keys repeat the threefry words: the same seed.
    assert dkjax.seed_from_key(jax.random.key(42, impl="rbg")) == 42
    # A numpy uint32 pair is a raw key too.
    assert dkjax.seed_from_key(np.array([1, 2], dtype=np.uint32)) == 2**32 + 2


def test_seed_from_key_is_the_documented_function_of_the_key_data():
    for key in jax.random.split(jax.random.key(7), 5):
        words = np.asarray(jax.random.key_data(key), dtype=np.uint32)
        assert dkjax.seed_from_key(key) == (int(words[0]) << 32) | int(words[1])
    raw = jax.random.split(jax.random.PRNGKey(7))[1]
    words = np.asarray(raw)
    assert dkjax.seed_from_key(raw) == (int(words[0]) << 32) | int(words[1])
    assert dkjax.seed_from_key(raw) < 2**64


@pytest.mark.parametrize(
    "key, error, match",
    [
        (3, TypeError, "must be a JAX PRNG key"),
        (np.zeros(2, dtype=np.float32), TypeError, "dtype float32"),
        (np.zeros(3, dtype=np.uint32), TypeError, r"shape \(3,\)"),
        (np.zeros((3, 2), dtype=np.uint32), ValueError, "not an array of keys"),
    ],
)
def test_seed_from_key_rejects_non_keys(key, error, match):
    with pytest.raises(error, match=match):
        dkjax.seed_from_key(key)


def test_seed_from_key_rejects_a_batch_of_typed_keys():
    with pytest.raises(ValueError, match=r"not an array of keys.*\(3,\)"):
        dkjax.seed_from_key(jax.random.split(jax.random.key(0), 3))


# ---------------------------------------------------------------- initializer


@pytest.mark.parametrize(
    "cls, shape",
    [
        (initializers.HeNormal, (16, 8)),
        (initializers.GlorotUniform, (3, 3, 4, 8)),
        (initializers.RandomNormal, (5,)),
        (initializers.TruncatedNormal, (7, 9)),
        (initializers.LecunUniform, (6, 2)),
        (initializers.Orthogonal, (6, 4)),
        (initializers.Zeros, (2, 3)),
        (initializers.Identity, (3, 5)),
    ],
)
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_initializer_equals_densekit_with_the_key_seed(cls, shape, dtype):
    fn = dkjax.initializer(cls)
    key = jax.random.key(1234)
    out = fn(key, shape, jnp.dtype(dtype))
    assert isinstance(out, jax.Array)
    assert out.shape == shape and out.dtype == jnp.dtype(dtype)
    if issubclass(cls, initializers.RandomInitializer):
        expected = cls(seed=1234)(shape, dtype=np.dtype(jnp.dtype(dtype)))
    else:
        expected = cls()(shape, dtype=np.dtype(jnp.dtype(dtype)))
    assert np.array_equal(np.asarray(out), expected)


def test_default_dtype_is_float32():
    out = dkjax.initializer("glorot_normal")(jax.random.PRNGKey(5), (4, 3))
    assert out.dtype == jnp.float32
    assert np.array_equal(out, initializers.GlorotNormal(seed=5)((4, 3)))


@pytest.mark.parametrize(
    "identifier",
    [
        "he_uniform",
        "HeUniform",
        initializers.HeUniform,
        initializers.HeUniform(seed=99),  # its own seed is replaced by the key's
        {"class_name": "HeUniform", "config": {"seed": 1}},
        {"class_name": "VarianceScaling",
         "config": {"scale": 2.0, "mode": "fan_in", "distribution": "uniform"}},
    ],
)
def test_any_identifier_get_accepts(identifier):
    out = dkjax.initializer(identifier)(jax.random.key(8), (10, 4))
    assert np.array_equal(out, initializers.HeUniform(seed=8)((10, 4)))


def test_plain_callable_and_user_subclass():
    def halves(shape, dtype=None):
        return np.full(shape, 0.5, dtype=dtype or "float32")

    out = dkjax.initializer(halves)(jax.random.key(0), (2, 3))
    assert np.array_equal(out, np.full((2, 3), 0.5, np.float32))

    class Scaled(initializers.Initializer):
        def __init__(self, seed=None):
            self.seed = seed

        def __call__(self, shape, dtype=None):
            return initializers.RandomUniform(seed=self.seed)(shape, dtype) * 2

        def get_config(self):
            return {"seed": self.seed}

    out = dkjax.initializer(Scaled())(jax.random.key(4), (3, 3))
    assert np.array_equal(out, initializers.RandomUniform(seed=4)((3, 3)) * 2)


def test_same_key_same_values_different_keys_different_values():
    fn = dkjax.initializer(initializers.RandomNormal(stddev=1.0))
    key = jax.random.key(0)
    k1, k2 = jax.random.split(key)
    a = fn(k1, (64,))
    assert np.array_equal(a, fn(k1, (64,)))
    assert np.array_equal(a, fn(jax.random.split(key)[0], (64,)))
    b = fn(k2, (64,))
    assert not np.array_equal(a, b)
    assert not np.array_equal(a, fn(jax.random.key(1), (64,)))
    assert not np.array_equal(a, fn(jax.random.fold_in(k1, 1), (64,)))


def test_values_do_not_depend_on_n_threads():
    a = dkjax.initializer("truncated_normal", n_threads=1)(jax.random.key(3), (300, 70))
    b = dkjax.initializer("truncated_normal", n_threads=4)(jax.random.key(3), (300, 70))
    assert np.array_equal(a, b)


def test_float64_is_truncated_to_float32_with_jax_warning():
    fn = dkjax.initializer("he_normal")
    if jax.config.jax_enable_x64:  # pragma: no cover - depends on the environment
        pytest.skip("jax_enable_x64 is set in this process")
    with pytest.warns(UserWarning, match="float64 is not available"):
        out = fn(jax.random.key(2), (3, 4), jnp.float64)
    assert out.dtype == jnp.float32
    assert np.array_equal(out, initializers.HeNormal(seed=2)((3, 4)))


def test_float64_with_x64_enabled():
    if hasattr(jax, "enable_x64"):  # jax >= 0.8; a config State, usable as a context
        enable_x64 = jax.enable_x64
    else:  # pragma: no cover - older jax
        enable_x64 = jax.experimental.enable_x64
    with enable_x64(True):
        out = dkjax.initializer("he_normal")(jax.random.key(2), (3, 4), jnp.float64)
        assert out.dtype == jnp.float64
        assert np.array_equal(out, initializers.HeNormal(seed=2)((3, 4), "float64"))


def test_under_jit_is_a_clear_error():
    fn = dkjax.initializer("he_normal")
    with pytest.raises(TypeError, match="outside jit"):
        jax.jit(lambda key: fn(key, (4, 4)))(jax.random.key(0))
    with pytest.raises(TypeError, match="concrete key"):
        jax.eval_shape(lambda key: fn(key, (4, 4)), jax.random.key(0))
    with pytest.raises(TypeError, match="outside jit"):
        jax.jit(dkjax.seed_from_key)(jax.random.PRNGKey(0))


def test_bad_arguments():
    with pytest.raises(ValueError, match="Could not interpret initializer identifier"):
        dkjax.initializer("he_nromal")
    with pytest.raises(ValueError, match="not None"):
        dkjax.initializer(None)
    with pytest.raises(TypeError, match="must be a jax.sharding.Sharding"):
        dkjax.initializer("zeros", sharding="x")
    fn = dkjax.initializer("zeros")
    with pytest.raises(TypeError, match="must be a jax.sharding.Sharding"):
        fn(jax.random.key(0), (2,), sharding=P("x"))
    with pytest.raises(TypeError, match="tuple of ints"):
        fn(jax.random.key(0), (2.5, 3))
    with pytest.raises(TypeError, match="must be a floating dtype"):
        dkjax.initializer("he_normal")(jax.random.key(0), (2, 2), jnp.complex64)


def test_int_shape_is_a_1d_shape():
    out = dkjax.initializer("ones")(jax.random.key(0), 3)
    assert out.shape == (3,) and np.array_equal(out, np.ones(3, np.float32))


def test_docstring_examples():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = doctest.testmod(dkjax, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 6
    assert result.failed == 0


# ---------------------------------------------------------------- sharded

MESHES = [
    # (mesh shape, axis names, partition spec)
    ((1,), ("x",), P("x")),
    ((1,), ("x",), P(None, "x")),
    ((2,), ("x",), P("x")),
    ((2,), ("x",), P(None, "x")),
    ((2,), ("x",), P()),
    ((4,), ("x",), P("x")),
    ((4,), ("x",), P(None, "x")),
    ((4,), ("x",), P()),
    ((2, 2), ("data", "model"), P("data", "model")),
    ((2, 2), ("data", "model"), P("model", "data")),
    ((2, 2), ("data", "model"), P(None, "model")),
    ((2, 2), ("data", "model"), P("data")),
    ((2, 2), ("data", "model"), P(("data", "model"))),
    ((2, 2), ("data", "model"), P(None, ("model", "data"))),
    ((1, 4), ("data", "model"), P("data", "model")),
    ((4, 1), ("data", "model"), P("data", "model")),
]


def _mesh_id(case):
    shape, _, spec = case
    return "x".join(map(str, shape)) + "-" + str(tuple(spec)).replace(" ", "")


@pytest.mark.parametrize("case", MESHES, ids=_mesh_id)
@pytest.mark.parametrize(
    "init, shape",
    [
        ("he_normal", (8, 12)),
        ("glorot_uniform", (4, 8, 6)),
        ("truncated_normal", (16, 4)),
        ("orthogonal", (8, 4)),
    ],
    ids=lambda v: v if isinstance(v, str) else "x".join(map(str, v)),
)
def test_sharded_equals_unsharded(case, init, shape, delegated):
    if delegated:
        return
    mesh_shape, names, spec = case
    sharding = NamedSharding(_mesh(mesh_shape, names), spec)
    key = jax.random.key(2026)
    out = dkjax.initializer(init, sharding=sharding)(key, shape)
    assert out.sharding == sharding
    expected = initializers.get(init).__class__(seed=2026)(shape)
    assert np.array_equal(np.asarray(out), expected)
    assert np.array_equal(np.asarray(dkjax.initializer(init)(key, shape)), expected)
    # Each device holds exactly its slice of the whole.
    for shard in out.addressable_shards:
        assert np.array_equal(np.asarray(shard.data), expected[shard.index])


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_sharded_16_bit(dtype, delegated):
    if delegated:
        return
    sharding = NamedSharding(_mesh((2, 2), ("a", "b")), P("b", "a"))
    fn = dkjax.initializer(initializers.RandomUniform(-1.0, 1.0))
    out = fn(jax.random.key(11), (6, 10), jnp.dtype(dtype), sharding=sharding)
    assert out.dtype == jnp.dtype(dtype)
    expected = initializers.RandomUniform(-1.0, 1.0, seed=11)((6, 10), np.dtype(jnp.dtype(dtype)))
    assert np.array_equal(np.asarray(out).view(np.uint16), expected.view(np.uint16))


def test_sharded_every_mesh_gives_the_same_array(delegated):
    if delegated:
        return
    fn = dkjax.initializer("lecun_normal")
    key = jax.random.key(5)
    arrays = [
        np.asarray(fn(key, (8, 8), sharding=NamedSharding(_mesh(m, n), s)))
        for m, n, s in MESHES
    ]
    for a in arrays[1:]:
        assert np.array_equal(a, arrays[0])


def test_sharded_call_time_sharding_overrides_the_default(delegated):
    if delegated:
        return
    one = NamedSharding(_mesh((1,), ("x",)), P())
    four = NamedSharding(_mesh((4,), ("x",)), P("x"))
    fn = dkjax.initializer("he_normal", sharding=one)
    out = fn(jax.random.key(1), (8, 2), sharding=four)
    assert out.sharding == four
    assert len(out.addressable_shards) == 4
    assert np.array_equal(out, initializers.HeNormal(seed=1)((8, 2)))


def test_sharded_computes_each_distinct_shard_once(delegated):
    if delegated:
        return
    calls = []

    class Counting(initializers.RandomNormal):
        def block(self, shape, index, dtype=None, **kwargs):
            calls.append(index)
            return super().block(shape, index, dtype, **kwargs)

    sharding = NamedSharding(_mesh((2, 2), ("data", "model")), P(None, "model"))
    out = dkjax.initializer(Counting())(jax.random.key(3), (4, 6), sharding=sharding)
    # Replicated over "data": 2 distinct blocks, one call each.
    assert len(calls) == 2
    assert np.array_equal(out, initializers.RandomNormal(seed=3)((4, 6)))


def test_sharded_uneven_split_is_refused_by_jax(delegated):
    if delegated:
        return
    sharding = NamedSharding(_mesh((4,), ("x",)), P("x"))
    with pytest.raises(ValueError, match="evenly divide"):
        dkjax.initializer("he_normal")(jax.random.key(0), (6, 3), sharding=sharding)
