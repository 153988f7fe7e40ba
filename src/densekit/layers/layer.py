"""The base `Layer`: names, weights, build/call protocol, losses and config.

Weights are plain C-contiguous numpy arrays owned by the layer (Keras' variables
play that role there). `set_weights`, `load_weights` and `apply_constraints`
write into them in place, so references held by the caller stay valid.
"""

import inspect
import math
import numbers
import sys
import threading
import warnings

import numpy as np

from densekit import regularizers
from densekit._registry import to_snake_case  # also imported from here by models/_weights_io
from densekit._threads import effective_n_threads
from densekit._validation import check_float_dtype
from densekit.initializers.initializer import _KernelInitializer

__all__ = ["Layer"]

# Per-prefix counters for default names ('dense', 'dense_1', ...), as Keras'
# `auto_name` keeps them for a session.
_NAME_COUNTS = {}


def unique_name(prefix):
    """The next default name for `prefix`: 'dense', then 'dense_1', 'dense_2', ..."""
    count = _NAME_COUNTS.get(prefix, 0)
    _NAME_COUNTS[prefix] = count + 1
    return prefix if count == 0 else f"{prefix}_{count}"


def standardize_dtype(dtype, name="dtype"):
    """A layer dtype: None -> 'float32'; 'float32'/'float64' (or a Keras DTypePolicy
    config) -> that name; anything else -> TypeError."""
    if isinstance(dtype, dict):
        # A Keras 3 config stores {"class_name": "DTypePolicy", "config": {"name": ...}}.
        dtype = dtype.get("config", {}).get("name", dtype)
    return check_float_dtype(dtype, name=name).name


def standardize_shape(shape, name="input_shape"):
    """A shape as a tuple of non-negative ints or None (None = unknown, e.g. batch)."""
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)):
        raise ValueError(
            f"Argument `{name}` must be a tuple of integers (None for an unknown "
            f"dimension). Received: {name}={shape!r}"
        )
    out = []
    for dim in shape:
        if dim is None:
            out.append(None)
            continue
        if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or dim < 0:
            raise ValueError(
                f"Argument `{name}` must be a tuple of non-negative integers (None for "
                f"an unknown dimension). Received: {name}={tuple(shape)!r}"
            )
        out.append(int(dim))
    return tuple(out)


def _caller_level(obj):
    """`stacklevel` of the first frame outside the `__init__` chain constructing `obj`."""
    level = 1
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_name == "__init__" and (
        frame.f_locals.get("self") is obj
    ):
        level += 1
        frame = frame.f_back
    return level


# Used when a subclass did not call Layer.__init__ (so has no lock of its own).
_FALLBACK_BUILD_LOCK = threading.RLock()


def _build_lock_of(layer):
    return getattr(layer, "_build_lock", None) or _FALLBACK_BUILD_LOCK


def _returns_fresh_arrays(initializer):
    """True for densekit's own initializers, whose ``__call__`` allocates a new array."""
    return (
        isinstance(initializer, _KernelInitializer)
        and type(initializer).__call__ is _KernelInitializer.__call__
    )


def weight_nbytes(weights):
    return sum(int(w.size) * w.dtype.itemsize for w in weights)


class Layer:
    """Base class of densekit layers (Keras 3 `keras.layers.Layer` semantics).

    Parameters
    ----------
    activity_regularizer : str, dict, callable or None, default=None
        Regularizer applied to the layer's output on each call; its value divided
        by the batch size is reported in `losses`.
    trainable : bool, default=True
        Whether the weights count as trainable.
    dtype : {'float32', 'float64'} or None, default=None
        Dtype of the weights and of the computation (None means 'float32').
        Inputs are cast to it.
    name : str or None, default=None
        Layer name; by default the snake-case class name made unique
        ('dense', 'dense_1', ...).
    input_shape : tuple of int or None, default=None
        Shape of one sample (without the batch axis). As the first layer of a
        `Sequential` it builds the model at once. Giving it warns, as in Keras 3
        (prefer ``Sequential([Input(shape), ...])``).
    input_dim : int or None, default=None
        Shorthand for ``input_shape=(input_dim,)`` (the Keras 2 spelling); warns too.
    n_threads : int or None, default=None
        Threads of the layer's own OpenMP passes (None: `densekit.get_num_threads()`).
        The matrix product runs in BLAS, which threads on its own.

    Raises
    ------
    ValueError
        For a keyword argument the layer does not know, as Keras does:
        ``Unrecognized keyword arguments passed to Dense: {'foo': 1}``.

    Warns
    -----
    UserWarning
        When `input_shape` or `input_dim` is given, with Keras 3's text: prefer
        an ``Input(shape)`` as the first layer of a Sequential model.

    Notes
    -----
    Subclasses implement ``build(input_shape)`` (creating weights with
    :meth:`add_weight`), ``call(x, n_threads)`` and ``compute_output_shape``.

    Thread safety: the first call of an unbuilt layer builds it exactly once,
    under a per-layer lock, even when several threads call it at the same
    time; calls on a built layer take no lock.
    """

    def __init__(
        self,
        *,
        activity_regularizer=None,
        trainable=True,
        dtype=None,
        name=None,
        input_shape=None,
        input_dim=None,
        n_threads=None,
        **kwargs,
    ):
        if kwargs:
            raise ValueError(
                "Unrecognized keyword arguments "
                f"passed to {self.__class__.__name__}: {kwargs}"
            )
        if input_dim is not None:
            if input_shape is not None:
                raise ValueError("Pass either `input_shape` or `input_dim`, not both.")
            input_shape = (input_dim,)
        if input_shape is not None:
            input_shape = standardize_shape(input_shape)  # a bad shape raises, not warns
            # Keras 3's warning (keras/src/layers/layer.py), pointed at the user's
            # line rather than at a subclass's super().__init__ call.
            warnings.warn(
                "Do not pass an `input_shape`/`input_dim` argument to "
                "a layer. When using Sequential models, "
                "prefer using an `Input(shape)` object as the "
                "first layer in the model instead.",
                UserWarning,
                stacklevel=_caller_level(self),
            )
        if name is None:
            name = unique_name(to_snake_case(type(self).__name__))
        elif not isinstance(name, str) or not name:
            raise ValueError(
                f"Argument `name` must be a non-empty string. Received: name={name!r}"
            )
        if "/" in name:
            raise ValueError(
                f"Argument `name` must not contain '/'. Received: name={name!r}"
            )
        self.name = name
        if not isinstance(trainable, (bool, np.bool_)):
            raise ValueError(
                f"Argument `trainable` must be a bool. Received: trainable={trainable!r}"
            )
        self.trainable = bool(trainable)
        self.dtype = standardize_dtype(dtype)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self._input_shape_arg = input_shape
        if n_threads is not None:
            effective_n_threads(n_threads)  # validate now, resolve at call time
        self.n_threads = n_threads
        self.built = False
        self._build_lock = threading.RLock()
        self._build_input_shape = None
        self._weights = []  # list of (attribute name, ndarray, regularizer, constraint, trainable)
        self._activity_losses = []

    def __getstate__(self):
        # A lock cannot be pickled or deep-copied; the copy gets a new one.
        state = self.__dict__.copy()
        state.pop("_build_lock", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._build_lock = threading.RLock()

    # ------------------------------------------------------------------ weights
    def add_weight(self, name, shape, initializer, regularizer=None, constraint=None,
                   trainable=True):
        """Create a weight of `shape` from `initializer` in the layer dtype.

        The weight is stored as attribute `name` and appended to `weights`.
        """
        shape = tuple(int(d) for d in shape)
        value = initializer(shape, dtype=self.dtype)
        # densekit's own initializers return a fresh array: keep it (a copy would cost
        # a full pass over a possibly huge kernel). Anything else -- plain callables and
        # Keras-style Initializer subclasses with their own __call__ -- may hand out an
        # array it still owns (a cached tensor), so theirs is copied.
        fresh = _returns_fresh_arrays(initializer)
        value = np.array(value, dtype=self.dtype, order="C", copy=None if fresh else True)
        if value.shape != shape:
            raise ValueError(
                f"The initializer of weight '{name}' of layer '{self.name}' returned "
                f"shape {value.shape}, expected {shape}."
            )
        self._weights.append((name, value, regularizer, constraint, bool(trainable)))
        setattr(self, name, value)
        return value

    @property
    def weights(self):
        """The weight arrays (kernel, then bias for a Dense); [] while unbuilt."""
        return [w for _, w, _, _, _ in self._weights]

    @property
    def trainable_weights(self):
        if not self.trainable:
            return []
        return [w for _, w, _, _, t in self._weights if t]

    @property
    def non_trainable_weights(self):
        if not self.trainable:
            return self.weights
        return [w for _, w, _, _, t in self._weights if not t]

    def get_weights(self):
        """Copies of the weights, as a list of ndarrays."""
        return [w.copy() for w in self.weights]

    def _check_weights(self, weights):
        """Validate a list of values for `set_weights`; return them cast, never assigning."""
        layer_weights = self.weights
        weights = list(weights)
        if len(layer_weights) != len(weights):
            raise ValueError(
                f"You called `set_weights(weights)` on layer '{self.name}' "
                f"with a weight list of length {len(weights)}, but the layer "
                f"was expecting {len(layer_weights)} weights."
            )
        values = []
        for variable, value in zip(layer_weights, weights):
            value = np.asarray(value)
            if variable.shape != value.shape:
                raise ValueError(
                    f"Layer {self.name} weight shape {variable.shape} "
                    "is not compatible with provided weight "
                    f"shape {value.shape}."
                )
            if value.dtype.kind not in "biuf":
                raise TypeError(
                    f"Weights of layer '{self.name}' must hold real numbers. "
                    f"Received dtype {value.dtype}."
                )
            values.append(value)
        return values

    def _assign_weights(self, values):
        for variable, value in zip(self.weights, values):
            variable[...] = value

    def set_weights(self, weights):
        """Set the weights from a list of arrays (same count and shapes as `weights`).

        Values are cast to the layer dtype and copied into the existing arrays.
        Constraints are not applied (as in Keras); see :meth:`apply_constraints`.
        Nothing is assigned unless every array matches.
        """
        self._assign_weights(self._check_weights(weights))

    def apply_constraints(self):
        """Project every constrained weight in place with its constraint."""
        for _, w, _, constraint, _ in self._weights:
            if constraint is None:
                continue
            try:
                in_place = "out" in inspect.signature(constraint).parameters
            except (TypeError, ValueError):  # pragma: no cover - no signature
                in_place = False
            if in_place:  # densekit constraints project straight into `w`
                constraint(w, out=w)
            else:
                w[...] = constraint(w)

    def count_params(self):
        """Total number of scalars in the weights (ValueError while unbuilt)."""
        if not self.built:
            raise ValueError(
                "You tried to call `count_params` "
                f"on layer '{self.name}', "
                "but the layer isn't built. "
                "You can build it manually via: "
                "`layer.build(input_shape)`."
            )
        return int(sum(math.prod(w.shape) for w in self.weights))

    @property
    def losses(self):
        """Regularization penalties: activity losses of the last call, then one
        float per regularized weight (Keras' order)."""
        losses = list(self._activity_losses)
        for _, w, regularizer, _, _ in self._weights:
            if regularizer is not None:
                losses.append(float(regularizer(w)))
        return losses

    # ------------------------------------------------------------ build / call
    def _maybe_build(self, input_shape):
        """Build for `input_shape` unless built: exactly once, whatever the threads."""
        if self.built:
            return
        with _build_lock_of(self):
            if not self.built:  # another thread may have built it while we waited
                self.build(input_shape)

    def build(self, input_shape):
        """Create the weights for inputs of `input_shape` (batch axis first)."""
        self._build_input_shape = standardize_shape(input_shape)
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    @property
    def output_shape(self):
        """The output shape for the shape the layer was built with."""
        if self._build_input_shape is None:
            raise AttributeError(
                f"Layer '{self.name}' has no defined output shape yet: it is not built."
            )
        return self.compute_output_shape(self._build_input_shape)

    def _check_input(self, x):
        """Hook for shape checks before build and call (`x` is already an ndarray)."""

    def _standardize_input(self, x):
        """`x` as an ndarray of the layer dtype (one copy at most, none if it already is)."""
        if not isinstance(x, np.ndarray):
            x = np.asarray(x)
        if x.dtype.kind not in "biuf":
            raise TypeError(
                f"Input of layer '{self.name}' must hold real numbers. "
                f"Received dtype {x.dtype}."
            )
        return x.astype(self.dtype, copy=False)

    def __call__(self, x, n_threads=None, *, training=None):
        """Apply the layer to `x`, building it first if needed.

        Parameters
        ----------
        x : array-like
            Input batch; cast to the layer dtype.
        n_threads : int or None, default=None
            Overrides the layer's `n_threads` for this call.
        training : bool or None, default=None
            Keras' training flag; only layers that behave differently in
            training (:class:`Dropout`) look at it.

        Returns
        -------
        ndarray of the layer dtype
        """
        x = self._standardize_input(x)
        self._check_input(x)
        if not self.built:
            self._maybe_build((None,) + x.shape[1:] if x.ndim else x.shape)
        n = effective_n_threads(self.n_threads if n_threads is None else n_threads)
        y = self.call(x, n)
        self._activity_losses = []
        if self.activity_regularizer is not None and y.ndim and y.shape[0]:
            self._activity_losses.append(
                float(self.activity_regularizer(y)) / y.shape[0]
            )
        return y

    def call(self, x, n_threads):
        """The computation (x is an ndarray of the layer dtype; n_threads an int)."""
        return x

    def _forward(self, x, out, n_threads):
        """Write the output for `x` into `out` (used by `Sequential.predict`)."""
        out[...] = self.call(x, n_threads)
        return out

    # ----------------------------------------------------------------- training
    # The trainer (densekit.models._trainer) drives these two hooks. `ws` is a dict
    # the trainer keeps per layer and per batch shape for a whole fit: a layer
    # allocates its buffers there on first use and reuses them on every step.
    def _train_forward(self, x, ws, training, n_threads):
        """(output, cache) for the C-contiguous input `x` of the layer dtype.

        `cache` is whatever :meth:`_backward` needs. `training` is True inside
        ``fit``/``train_on_batch`` and False in ``evaluate``.
        """
        return self.call(x, n_threads), None

    def _backward(self, cache, dy, need_dx, grads, ws, n_threads):
        """The gradient with respect to the input, given `dy` for the output.

        `grads` is None, or one buffer per trainable weight (in `trainable_weights`
        order) that receives that weight's gradient. Returns None when not
        `need_dx`. Layers without a backward pass cannot be trained through.
        """
        raise NotImplementedError(
            f"Layer '{self.name}' ({type(self).__name__}) has no backward pass: "
            "densekit cannot train a model through it."
        )

    # ------------------------------------------------------------------ config
    def get_config(self):
        """The constructor arguments as a JSON-able dict."""
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = regularizers.serialize(
                self.activity_regularizer
            )
        return config

    @classmethod
    def from_config(cls, config):
        """A new, unbuilt layer from `get_config()` output (Keras 3 configs accepted)."""
        config = dict(config)
        for key in ("quantization_config", "lora_rank", "lora_alpha"):
            value = config.pop(key, None)
            if value:
                raise ValueError(
                    f"densekit layers do not support `{key}`. Received: {key}={value!r}"
                )
        if "dtype" in config:
            config["dtype"] = standardize_dtype(config["dtype"])
        shape = config.pop("batch_input_shape", None)
        layer = cls(**config)
        if shape is not None:
            # A saved (Keras 2) input shape: set directly, since warning that the
            # user passed `input_shape` would be wrong when loading a file.
            layer._input_shape_arg = standardize_shape(tuple(shape)[1:])
        return layer

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"
