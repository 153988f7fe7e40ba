"""densekit initializers as JAX initializers, sharded arrays included.

:func:`initializer` turns any densekit initializer into a function with the
``jax.nn.initializers`` signature, ``init(key, shape, dtype=jnp.float32)``, so
it can be passed wherever JAX and Flax take one (``kernel_init=`` ...). The
values are densekit's: computed on the host by the parallel counter-based
samplers, then placed on the device(s).

Seeds come from the key (:func:`seed_from_key`): ``jax.random.key(s)`` and
``jax.random.PRNGKey(s)`` (``0 <= s < 2**32``) give the values of densekit's
``seed=s``. With ``sharding=``, every device computes only its own shard
(``init.block``), and the array is the same, bit for bit, for every mesh and
partitioning, and equal to the unsharded one.

Fans follow densekit's (and Keras', Flax's and ``jax.nn.initializers``') layout:
a 2-D kernel is ``(fan_in, fan_out)``; for rank >= 3 the leading dims are the
receptive field (``(h, w, in, out)`` convolution kernels).

Needs the ``jax`` extra: ``pip install 'densekit[jax]'``.
"""

import operator
import warnings

import numpy as np

from densekit import initializers as _initializers

try:
    import jax as _jax
    import jax.numpy as _jnp
except ImportError as exc:  # pragma: no cover - exercised only without jax
    raise ImportError(
        "densekit.jax needs JAX: pip install 'densekit[jax]' (jax>=0.4.30)"
    ) from exc

__all__ = ["initializer", "seed_from_key"]


_TRACER = getattr(getattr(_jax, "core", None), "Tracer", None)
# Raised by np.asarray on a tracer (both are TypeErrors).
_TRACER_ERRORS = tuple(
    getattr(_jax.errors, name)
    for name in ("TracerArrayConversionError", "ConcretizationTypeError")
    if hasattr(_jax.errors, name)
)


def _is_tracer(x):
    return _TRACER is not None and isinstance(x, _TRACER)


def _tracer_error(what):
    return TypeError(
        f"densekit.jax initializers compute their values on the host with densekit's "
        f"samplers, so they need a concrete {what}; it was called inside a traced "
        f"function (jax.jit, jax.eval_shape, vmap or grad). Call it outside jit: "
        f"create the parameters eagerly (e.g. `params = model.init(key, x)` without "
        f"jax.jit, or `init(key, shape, sharding=...)` for a sharded array), then "
        f"pass them to the jitted functions."
    )


def seed_from_key(key):
    """Return the densekit seed that a JAX PRNG key stands for.

    The seed is the key's first two 32-bit words as one 64-bit integer::

        words = numpy.asarray(jax.random.key_data(key), dtype=numpy.uint32)
        seed = (int(words[0]) << 32) | int(words[1])

    For the default ``threefry2x32`` implementation these two words are the
    whole key, so the mapping is one-to-one between keys and seeds in
    ``[0, 2**64)``: ``jax.random.key(s)`` and ``jax.random.PRNGKey(s)`` (words
    ``[0, s]`` for ``0 <= s < 2**32``) give seed ``s``, and the keys made by
    ``jax.random.split`` or ``fold_in`` give other seeds. ``rbg`` keys repeat
    those two words (``jax.random.key(s, impl="rbg")`` also gives ``s``);
    ``unsafe_rbg`` keys contribute 64 of their 128 bits.

    Parameters
    ----------
    key : jax.Array
        A scalar typed key (``jax.random.key``) or a raw ``uint32`` key array
        (``jax.random.PRNGKey``, shape ``(2,)``, or ``(4,)`` for the rbg
        implementations). It must be concrete: not a tracer inside ``jit``.

    Returns
    -------
    int
        A seed in ``[0, 2**64)`` for densekit's initializers.

    Raises
    ------
    TypeError
        If `key` is not a key, or is a tracer (called inside ``jax.jit``).
    ValueError
        If `key` holds more than one key (a batch of keys).

    Examples
    --------
    >>> import jax
    >>> from densekit.jax import seed_from_key
    >>> seed_from_key(jax.random.key(42))
    42
    >>> seed_from_key(jax.random.PRNGKey(7))
    7
    """
    if _is_tracer(key):
        raise _tracer_error("key")
    dtype = getattr(key, "dtype", None)
    if dtype is not None and _jax.dtypes.issubdtype(dtype, _jax.dtypes.prng_key):
        if key.shape != ():
            raise ValueError(
                "Argument `key` must be a single PRNG key, not an array of keys. "
                f"Received: key of shape {key.shape}"
            )
        data = _jax.random.key_data(key)
    else:
        if not isinstance(key, (_jax.Array, np.ndarray)):
            raise TypeError(
                "Argument `key` must be a JAX PRNG key (jax.random.key or "
                f"jax.random.PRNGKey). Received: key={key!r} of type {type(key).__name__}"
            )
        data = key
        if data.dtype != np.uint32 or data.ndim != 1 or data.shape[0] not in (2, 4):
            if data.dtype == np.uint32 and data.ndim > 1:
                raise ValueError(
                    "Argument `key` must be a single PRNG key, not an array of keys. "
                    f"Received: key of shape {data.shape}"
                )
            raise TypeError(
                "Argument `key` must be a JAX PRNG key: a typed key "
                "(jax.random.key) or a raw uint32 key of shape (2,) or (4,) "
                f"(jax.random.PRNGKey). Received: key of dtype {data.dtype} and "
                f"shape {data.shape}"
            )
    try:
        words = np.asarray(data, dtype=np.uint32).reshape(-1)
    except _TRACER_ERRORS:  # pragma: no cover - caught by _is_tracer above
        raise _tracer_error("key") from None
    return (int(words[0]) << 32) | int(words[1])


def _resolve(init):
    """`init` as an object, from anything densekit.initializers.get accepts."""
    if init is None:
        raise ValueError(
            "Argument `init` must be a densekit initializer or identifier, "
            "not None. Received: init=None"
        )
    resolved = _initializers.get(init)
    if not callable(resolved):  # pragma: no cover - get() rejects these
        raise TypeError(f"Could not interpret initializer identifier: {init!r}")
    return resolved


def _reseeded(init, seed):
    """A copy of `init` with its seed replaced by `seed` (itself if unseeded)."""
    get_config = getattr(init, "get_config", None)
    if get_config is None:
        return init
    config = get_config()
    if not isinstance(config, dict) or "seed" not in config:
        return init
    return type(init).from_config({**config, "seed": seed})


def _check_shape(shape):
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        return tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError(
            "Argument `shape` must be a tuple of ints (static under jit). "
            f"Received: shape={shape!r}"
        ) from None


def _check_sharding(sharding):
    if sharding is not None and not isinstance(sharding, _jax.sharding.Sharding):
        raise TypeError(
            "Argument `sharding` must be a jax.sharding.Sharding (e.g. "
            "NamedSharding(mesh, PartitionSpec(...))) or None. "
            f"Received: sharding={sharding!r} of type {type(sharding).__name__}"
        )
    return sharding


def _canonical_dtype(dtype):
    """The dtype JAX will store (float64 is float32 unless jax_enable_x64 is set)."""
    requested = np.dtype(_jnp.float32 if dtype is None else dtype)
    canonical = np.dtype(_jax.dtypes.canonicalize_dtype(requested))
    if canonical != requested:
        # jax.nn.initializers' own warning, so the two behave alike.
        warnings.warn(
            f"Explicitly requested dtype {requested} is not available, and will be "
            f"truncated to dtype {canonical}. To enable more dtypes, set the "
            "jax_enable_x64 configuration option or the JAX_ENABLE_X64 shell "
            "environment variable.",
            UserWarning,
            stacklevel=3,
        )
    return canonical


def _block(init, shape, index, dtype, n_threads):
    """``init(shape, dtype)[index]``; ``index=()`` is the whole tensor."""
    block = getattr(init, "block", None)
    if block is not None:
        return block(shape, index, dtype=dtype, n_threads=n_threads)
    # A plain callable: compute the whole and slice it (exact, not cheaper).
    return np.array(np.asarray(init(shape, dtype))[index], dtype=dtype, copy=True)


def initializer(init, *, sharding=None, n_threads=None):
    """Return a ``jax.nn.initializers``-style function computing `init`'s values.

    Parameters
    ----------
    init : Initializer, str, dict, class or callable
        A densekit initializer, or any identifier
        :func:`densekit.initializers.get` accepts (``"he_normal"``,
        ``HeNormal``, a config dict, ...). A seeded initializer's own seed is
        not used: each call takes its seed from the key (:func:`seed_from_key`).
        Unseeded ones (``Zeros``, ``Constant``, ``Identity``) ignore the key.
    sharding : jax.sharding.Sharding, optional
        The default placement of the arrays (e.g. ``NamedSharding(mesh,
        PartitionSpec("data", "model"))``). The array is built with
        :func:`jax.make_array_from_callback`: each addressable device's shard
        is computed on its own by ``init.block`` of the global shape (a block
        that several devices hold, once), so each process computes only its own
        devices' shards, and the values do not depend on the mesh. JAX requires the shape to be divisible by the mesh axes it is
        split over. None puts the whole array on the default device.
    n_threads : int, optional
        Host threads for densekit's samplers (see
        :func:`densekit.get_num_threads`); the values do not depend on it.

    Returns
    -------
    callable
        ``fn(key, shape, dtype=jnp.float32, *, sharding=None) -> jax.Array``.
        `key` is a concrete PRNG key (see :func:`seed_from_key`); `shape` a
        tuple of ints; `dtype` float32, float16, bfloat16 or float64 (float64
        only with ``jax_enable_x64``; otherwise it is truncated to float32
        with a warning, as ``jax.nn.initializers`` do). float16 and bfloat16
        are filled directly (the float32 values rounded to nearest even, no
        float32 temporary). `sharding` overrides the default above.

    Raises
    ------
    TypeError
        When the returned function is called inside ``jax.jit`` (the key is a
        tracer): call it outside jit. Also for a bad key, shape or sharding.
    ValueError
        If `init` is None or not an initializer identifier.

    Notes
    -----
    ``fn(key, shape, dtype)`` equals ``init`` rebuilt with
    ``seed=seed_from_key(key)`` and called as ``init(shape, dtype)``: so
    ``initializer(HeNormal())(jax.random.key(3), (4, 5))`` is
    ``HeNormal(seed=3)((4, 5))``. For :class:`~densekit.initializers.Orthogonal`
    each shard still needs the whole QR (exact, but not cheaper).

    Examples
    --------
    >>> import jax, numpy as np
    >>> import densekit.jax
    >>> from densekit.initializers import HeNormal
    >>> init = densekit.jax.initializer("he_normal")
    >>> w = init(jax.random.key(3), (4, 5))
    >>> w.shape, w.dtype
    ((4, 5), dtype('float32'))
    >>> bool(np.array_equal(w, HeNormal(seed=3)((4, 5))))
    True

    A sharded array (every mesh gives the same values):

    >>> from jax.sharding import Mesh, NamedSharding, PartitionSpec
    >>> mesh = Mesh(np.array(jax.devices()[:1]), ("model",))
    >>> sharded = densekit.jax.initializer(
    ...     "glorot_uniform", sharding=NamedSharding(mesh, PartitionSpec(None, "model")))
    >>> bool(np.array_equal(sharded(jax.random.key(3), (4, 6)),
    ...                     densekit.jax.initializer("glorot_uniform")(jax.random.key(3), (4, 6))))
    True
    """
    base = _resolve(init)
    default_sharding = _check_sharding(sharding)

    def init_fn(key, shape, dtype=_jnp.float32, *, sharding=None):
        """Return the array of `shape` and `dtype` for `key` (see densekit.jax.initializer)."""
        seed = seed_from_key(key)
        shape = _check_shape(shape)
        dtype = _canonical_dtype(dtype)
        where = _check_sharding(sharding) or default_sharding
        seeded = _reseeded(base, seed)
        if where is None:
            return _jnp.asarray(_block(seeded, shape, (), dtype, n_threads))

        # Devices holding the same block (replicated mesh axes) share one result.
        done = {}

        def shard(index):
            if index is None:  # pragma: no cover - only for empty device sets
                index = ()
            index = tuple(index)
            token = tuple(
                (i.start, i.stop, i.step) if isinstance(i, slice) else i for i in index
            )
            if token not in done:
                done[token] = _block(seeded, shape, index, dtype, n_threads)
            return done[token]

        return _jax.make_array_from_callback(shape, where, shard)

    init_fn.__name__ = "densekit_" + type(base).__name__
    init_fn.__qualname__ = init_fn.__name__
    return init_fn
