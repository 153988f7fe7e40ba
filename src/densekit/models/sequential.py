"""`Sequential`: a linear stack of layers (Keras 3 `keras.Sequential` semantics)."""

import json
import math
import numbers
import operator
import threading
import weakref

import numpy as np

from densekit._progress import row_progress, stderr_is_terminal
from densekit._threads import effective_n_threads
from densekit.callbacks import CallbackList
from densekit.layers import InputLayer, Layer
from densekit.layers import _fused
from densekit.layers import deserialize as deserialize_layer
from densekit.layers import serialize as serialize_layer
from densekit.layers.layer import standardize_shape, unique_name

__all__ = ["Sequential", "model_from_json"]

# predict() runs general layer stacks over chunks of about this many bytes of the
# widest activation: large enough that per-chunk Python and thread-pool costs
# vanish, small enough that the reused intermediate buffers stay in L3.
_CHUNK_BYTES = 1 << 23
# ... but a chunk may grow to the size of the requested output, up to this many
# bytes per intermediate buffer: then large GEMMs run whole (as in model(x)), not
# in slices that lose BLAS efficiency and wake the thread pools once per slice.
_WHOLE_BYTES = 1 << 28
# Each model's last fused-MLP plan (reused while its weights are the same arrays).
_PLANS = weakref.WeakKeyDictionary()
# verbose='auto' shows a progress bar from this many rows on.
_AUTO_BAR_ROWS = 1 << 20


class Sequential:
    """A linear stack of layers.

    Parameters
    ----------
    layers : list of Layer, optional
        Layers to add in order. The first may be an :func:`densekit.layers.Input`
        (or a layer given `input_shape=`, which warns as in Keras 3), which
        builds the model at once.
    name : str, optional
        Default 'sequential', 'sequential_1', ...
    trainable : bool, default=True

    Notes
    -----
    The forward pass runs each layer's kernel in turn; Dense layers use one
    BLAS GEMM and one fused OpenMP bias + activation pass. `predict` processes
    many batches at once (rows are independent, so the result does not depend
    on the chunking) and reuses its intermediate buffers.

    Thread safety: building (explicitly, or on the first call or `predict` of
    an unbuilt model) runs under a per-model lock, so concurrent first calls
    build the model and each layer exactly once.

    As in Keras, unknown constructor arguments raise Python's TypeError
    (Keras' ``Sequential.__init__`` has no ``**kwargs``).

    Training follows Keras 3.15: :meth:`compile`, :meth:`fit` (returns a
    ``densekit.callbacks.History``), :meth:`evaluate`, :meth:`train_on_batch`,
    :meth:`test_on_batch`, :meth:`predict_on_batch`, with Keras' log names
    (``loss``, the metrics' names, ``val_*``), hook order and progress output.
    Regularizers add their penalties to the reported loss and their gradients to
    the weights' gradients; constraints are applied after every optimizer step.
    Every layer must have a backward pass (Dense, Activation, Dropout, Flatten,
    Reshape do); see ``densekit.models._trainer`` for how a step runs.

    Examples
    --------
    >>> from densekit.models import Sequential
    >>> from densekit.layers import Dense, Input
    >>> model = Sequential()
    >>> model.add(Input(shape=(16,)))
    >>> model.add(Dense(32, activation="relu"))
    >>> model.add(Dense(8))
    >>> model.count_params()
    808
    >>> model.input_shape, model.output_shape
    ((None, 16), (None, 8))
    >>> import numpy as np
    >>> x = np.random.default_rng(0).standard_normal((64, 16), dtype=np.float32)
    >>> model.compile(optimizer="adam", loss="mse")
    >>> history = model.fit(x, x[:, :8], epochs=2, verbose=0)
    >>> sorted(history.history), len(history.history["loss"])
    (['loss'], 2)
    """

    def __init__(self, layers=None, name=None, trainable=True):
        if name is None:
            name = unique_name("sequential")
        elif not isinstance(name, str) or not name:
            raise ValueError(
                f"Argument `name` must be a non-empty string. Received: name={name!r}"
            )
        self.name = name
        self.trainable = bool(trainable)
        self._layers = []
        self.built = False
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._trainer = None
        self._build_lock = threading.RLock()
        if layers is not None:
            if isinstance(layers, Layer) or not hasattr(layers, "__iter__"):
                raise ValueError(
                    "Argument `layers` must be a list of layers. "
                    f"Received: layers={layers!r}"
                )
            for layer in layers:
                self.add(layer, rebuild=False)
            if self._layers:
                self._maybe_rebuild()

    def __getstate__(self):
        # A lock cannot be pickled or deep-copied; the copy gets a new one.
        state = self.__dict__.copy()
        state.pop("_build_lock", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._build_lock = threading.RLock()

    # ----------------------------------------------------------- structure
    def add(self, layer, rebuild=True):
        """Add a layer on top of the stack (an InputLayer only as the first)."""
        if not self._layers and getattr(layer, "_input_shape_arg", None) is not None:
            self.add(InputLayer(shape=layer._input_shape_arg, dtype=layer.dtype),
                     rebuild=False)
        if not isinstance(layer, Layer):
            raise ValueError(
                "Only instances of `densekit.layers.Layer` can be "
                f"added to a Sequential model. Received: {layer!r} "
                f"(of type {type(layer)})"
            )
        if any(other.name == layer.name and other is not layer for other in self._layers):
            raise ValueError(
                "All layers added to a Sequential model "
                f"should have unique names. Name '{layer.name}' is already "
                "the name of a layer in this model. Update the `name` argument "
                "to pass a unique name."
            )
        if isinstance(layer, InputLayer) and self._layers:
            if isinstance(self._layers[0], InputLayer):
                raise ValueError(
                    f"Sequential model '{self.name}' has already been configured "
                    f"to use input shape {self._layers[0].batch_shape}. You cannot "
                    "add a different Input layer to it."
                )
            raise ValueError(
                "An InputLayer can only be the first layer of a Sequential model."
            )
        self._layers.append(layer)
        self.built = False
        if rebuild:
            self._maybe_rebuild()

    def pop(self, rebuild=True):
        """Remove and return the last layer."""
        if not self.layers:
            raise TypeError("There are no layers in the model.")
        layer = self._layers.pop()
        self.built = False
        if rebuild and self._layers:
            self._maybe_rebuild()
        return layer

    def _maybe_rebuild(self):
        self.built = False
        if isinstance(self._layers[0], InputLayer) and len(self._layers) > 1:
            self.build(self._layers[0].batch_shape)

    @property
    def layers(self):
        """The layers, without the InputLayer."""
        if self._layers and isinstance(self._layers[0], InputLayer):
            return self._layers[1:]
        return self._layers[:]

    @property
    def input_shape(self):
        """The model's input shape, batch axis first (``(None, 16)``); ValueError while unbuilt."""
        if not self.built:
            raise ValueError(
                f"Sequential model '{self.name}' has no defined input shape yet."
            )
        return self._layers[0].batch_shape

    @property
    def output_shape(self):
        """The model's output shape, batch axis first (``(None, 8)``); ValueError while unbuilt."""
        if not self.built:
            raise ValueError(
                f"Sequential model '{self.name}' has no defined output shape yet."
            )
        shape = self._layers[0].batch_shape
        for layer in self.layers:
            shape = tuple(layer.compute_output_shape(shape))
        return shape

    def get_layer(self, name=None, index=None):
        """The layer called `name`, or at position `index` of `layers` (Keras' messages).

        Parameters
        ----------
        name : str, optional
        index : int, optional
            Position in :attr:`layers` (which omits the InputLayer); negative
            values count from the end.

        Raises
        ------
        ValueError
            Both or neither of `name` and `index` given, an index out of range,
            or no layer of that name.
        """
        if index is not None and name is not None:
            raise ValueError(
                "Provide only a layer name or a layer index. Received: "
                f"index={index}, name={name}."
            )
        layers = self.layers
        if index is not None:
            if isinstance(index, bool):
                raise TypeError(
                    f"Argument `index` must be an integer. Received: index={index!r}"
                )
            try:
                index = operator.index(index)
            except TypeError:
                raise TypeError(
                    f"Argument `index` must be an integer. Received: index={index!r}"
                ) from None
            if len(layers) <= index or index < -len(layers):
                raise ValueError(
                    f"Was asked to retrieve layer at index {index}"
                    f" but model only has {len(layers)}"
                    " layers."
                )
            return layers[index]
        if name is not None:
            for layer in layers:
                if layer.name == name:
                    return layer
            raise ValueError(
                f"No such layer: {name}. Existing layers are: "
                f"{list(layer.name for layer in layers)}."
            )
        raise ValueError(
            "Provide either a layer name or layer index at `get_layer`."
        )

    def build(self, input_shape=None):
        """Build every layer for inputs of `input_shape` (batch axis first, e.g. (None, 16))."""
        with self._build_lock:
            self._build(input_shape)

    def _build(self, input_shape):
        if not self.layers:
            raise ValueError(
                f"Sequential model {self.name} cannot be built because it has "
                "no layers. Call `model.add(layer)`."
            )
        if input_shape is None:
            if isinstance(self._layers[0], InputLayer):
                input_shape = self._layers[0].batch_shape
            else:
                raise ValueError(
                    f"Sequential model '{self.name}' needs an `input_shape` to be built."
                )
        input_shape = standardize_shape(input_shape)
        if isinstance(self._layers[0], InputLayer):
            if self._layers[0].batch_shape != input_shape:
                raise ValueError(
                    f"Sequential model '{self.name}' has already been "
                    "configured to use input shape "
                    f"{self._layers[0].batch_shape}. You cannot build it "
                    f"with input_shape {input_shape}"
                )
        shape = input_shape
        for layer in self.layers:
            if layer.built:
                layer._check_input(_ShapeOnly(shape))
            else:
                layer._maybe_build(shape)  # once, even if the layer is also called elsewhere
            shape = layer.compute_output_shape(shape)
        if not isinstance(self._layers[0], InputLayer):
            # Only once every layer accepted the shape, so a failed build leaves no trace.
            self._layers.insert(
                0, InputLayer(batch_shape=input_shape, dtype=self._layers[0].dtype)
            )
        self.built = True

    # --------------------------------------------------------------- compute
    def _prepare_input(self, x):
        if not self.layers:
            raise ValueError(
                f"Sequential model {self.name} cannot be built because it has "
                "no layers. Call `model.add(layer)`."
            )
        if not isinstance(x, np.ndarray):
            x = np.asarray(x)
        if x.dtype.kind not in "biuf":
            raise TypeError(
                f"Input of model '{self.name}' must hold real numbers. "
                f"Received dtype {x.dtype}."
            )
        if x.ndim < 2:
            raise ValueError(
                f"Input 0 of model '{self.name}' is incompatible with the model: "
                f"expected min_ndim=2, found ndim={x.ndim}. "
                f"Full shape received: {x.shape}"
            )
        if not self.built:
            with self._build_lock:
                if not self.built:  # another thread may have built it meanwhile
                    self._build((None,) + x.shape[1:])
        expected = self._layers[0].batch_shape
        if len(expected) != x.ndim or any(
            e is not None and e != d for e, d in zip(expected[1:], x.shape[1:])
        ):
            raise ValueError(
                f"Input 0 of model '{self.name}' is incompatible with the model: "
                f"expected shape={expected}, found shape={x.shape}"
            )
        return x.astype(self._layers[0].dtype, copy=False)

    def __call__(self, x, n_threads=None, *, training=None):
        """Apply every layer in turn to the batch `x` (records activity losses).

        ``training=True`` runs the layers in training mode (Dropout drops).
        """
        x = self._prepare_input(x)
        for layer in self.layers:
            x = layer(x, n_threads=n_threads, training=training)
        return x

    def predict(self, x, batch_size=32, verbose="auto", n_threads=None):
        """Outputs for the samples `x`, computed in batches.

        Parameters
        ----------
        x : array-like of shape (n_samples, ...)
        batch_size : int or None, default=32
            Samples per batch. Batches are processed many at a time (rows are
            independent, so the result is the same as one batch at a time),
            which removes Python overhead per batch.
        verbose : {'auto', 0, 1, 2}, default='auto'
            0: silent; 1: a tqdm progress bar on stderr; 2: one line on stderr
            at the end; 'auto': from 2**20 rows on, 1 when stderr is a terminal
            and 2 when it is not (a file or a pipe), else 0.
        n_threads : int or None
            Threads of the fused OpenMP passes (BLAS threads on its own).

        Returns
        -------
        ndarray of shape (n_samples, ...) in the dtype of the last layer
        """
        if batch_size is None:
            batch_size = 32
        if type(batch_size) is not int and (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, numbers.Integral)
        ) or batch_size < 1:
            raise ValueError(
                "Argument `batch_size` must be a positive integer. "
                f"Received: batch_size={batch_size!r}"
            )
        if verbose not in ("auto", 0, 1, 2) or isinstance(verbose, bool):
            raise ValueError(
                "Argument `verbose` must be one of 'auto', 0, 1, 2. "
                f"Received: verbose={verbose!r}"
            )
        x = self._prepare_input(x)
        n = x.shape[0]
        layers = self.layers
        if x.ndim == 2 and (verbose == 0 or (verbose == "auto" and n < _AUTO_BAR_ROWS)):
            # The latency paths, with no progress bar to feed. A stack of small
            # fused Dense layers: one kernel call over all rows, with the plan of
            # the previous call when the weights are the same arrays.
            plan = _fused.plan_mlp(layers, x.dtype, x.shape[1], _PLANS.get(self))
            if plan is not None:
                _PLANS[self] = plan
                out = np.empty((n, plan.out_units), dtype=x.dtype)
                _fused.run_mlp(plan, np.ascontiguousarray(x), out, n_threads, None)
                return out
            if n <= batch_size or n * x.shape[1] * x.itemsize <= _CHUNK_BYTES:
                # One batch, or an input smaller than a chunk: the layer-by-layer
                # path of model(x) (the same bits as the chunked loop).
                y = self._predict_one_batch(x, layers, n_threads)
                if y is not None:
                    return y
        n_threads = effective_n_threads(n_threads)
        shapes = []
        shape = x.shape[1:]
        for layer in layers:
            shape = tuple(layer.compute_output_shape((None,) + shape)[1:])
            shapes.append(shape)
        if verbose == "auto":
            # A bar on a terminal; written to a file or a pipe, its carriage-return
            # updates would be one garbled line, so there 'auto' is Keras' 2.
            verbose = (1 if stderr_is_terminal() else 2) if n >= _AUTO_BAR_ROWS else 0
        progress = row_progress(verbose, n)
        try:
            plan = None
            if x.ndim == 2:
                plan = _fused.plan_mlp(layers, x.dtype, x.shape[-1], _PLANS.get(self))
                if plan is not None:
                    _PLANS[self] = plan
            if plan is not None:
                # One kernel call for everything, unless a progress bar wants updates.
                out = np.empty((n,) + shapes[-1], dtype=layers[-1].dtype)
                _fused.run_mlp(plan, np.ascontiguousarray(x), out, n_threads, progress,
                               n_updates=50 if verbose == 1 else 1)
            else:
                out = self._predict_layers(x, layers, shapes, batch_size, progress, n_threads)
        finally:
            progress.close()
        return out

    @staticmethod
    def _predict_one_batch(x, layers, n_threads):
        """The output for one small batch through the layers' latency paths
        (``_latency_call``), or None when some layer has none."""
        h = x
        for layer in layers:
            forward = getattr(layer, "_latency_call", None)
            h = forward(h, n_threads) if forward is not None else None
            if h is None:
                return None
        return h

    @staticmethod
    def _predict_layers(x, layers, shapes, batch_size, progress, n_threads):
        """The output, layer by layer over chunks of many batches, reusing the
        buffers."""
        n = x.shape[0]
        widest = max(
            [math.prod(s) * np.dtype(layer.dtype).itemsize for s, layer in zip(shapes, layers)]
            + [math.prod(x.shape[1:]) * x.itemsize]
        )
        out_bytes = n * math.prod(shapes[-1]) * np.dtype(layers[-1].dtype).itemsize
        budget = max(_CHUNK_BYTES, min(out_bytes, _WHOLE_BYTES))
        batches_per_chunk = max(1, budget // max(1, widest * batch_size))
        chunk = batches_per_chunk * int(batch_size)
        if chunk >= n:
            # One chunk: each output is allocated when its layer runs and the one before
            # it is let go, as in model(x). All of them held at once are handed back to
            # the system when freed (above glibc's trim threshold), and the next call
            # faults fresh pages in inside the product: 31.8 ms against 26.2 ms for the
            # last 4096x1024 layer of a 3-layer model.
            h = x
            for layer, shape in zip(layers, shapes):
                h = layer._forward(h, np.empty((n,) + shape, dtype=layer.dtype), n_threads)
            progress.update(n)
            return h
        out = np.empty((n,) + shapes[-1], dtype=layers[-1].dtype)
        buffers = [
            np.empty((chunk,) + s, dtype=layer.dtype) for s, layer in zip(shapes[:-1], layers)
        ]
        for start in range(0, n, chunk):
            stop = min(start + chunk, n)
            h = x[start:stop]
            for layer, buf in zip(layers[:-1], buffers):
                h = layer._forward(h, buf[: stop - start], n_threads)
            layers[-1]._forward(h, out[start:stop], n_threads)
            progress.update(stop - start)
        return out

    # -------------------------------------------------------------- training
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True):
        """Configure the model for training (Keras 3.15's ``Model.compile``).

        Parameters
        ----------
        optimizer : str or Optimizer, default="rmsprop"
            Through ``densekit.optimizers.get`` ('sgd', 'adam', ... or an instance).
        loss : str, Loss or callable, optional
            Through ``densekit.losses.get``; 'crossentropy'/'ce' pick binary, sparse
            or categorical crossentropy from the data's shapes (as Keras).
        loss_weights : float, optional
            Factor of the loss (one output: a float, or a list/dict of one).
        metrics, weighted_metrics : list, optional
            Metric identifiers ('accuracy' resolved from the shapes as Keras does);
            `weighted_metrics` see the sample weights, `metrics` do not.
        run_eagerly, steps_per_execution, jit_compile, auto_scale_loss
            Accepted for Keras compatibility and without effect: densekit has no
            graph compilation, runs every step as it comes, and has no mixed
            precision loss scaling.

        Raises
        ------
        ValueError
            "Could not interpret optimizer identifier: ..." / "Could not interpret
            loss identifier: ..." for unknown names.
        """
        from densekit.models._trainer import Trainer

        self._trainer = Trainer(self, optimizer, loss, loss_weights, metrics,
                                weighted_metrics)
        self._compile_args = {
            "loss": loss, "loss_weights": loss_weights, "metrics": metrics,
            "weighted_metrics": weighted_metrics, "run_eagerly": run_eagerly,
            "steps_per_execution": steps_per_execution,
            # Keras on jax resolves 'auto' to True and writes that.
            "jit_compile": True if jit_compile == "auto" else jit_compile,
        }
        self.compiled = True
        self.stop_training = False

    def get_compile_config(self):
        """Keras' compile_config of the last `compile` ({} when not compiled).

        ``{"optimizer": <serialized>, "loss", "loss_weights", "metrics",
        "weighted_metrics", "run_eagerly", "steps_per_execution", "jit_compile"}``,
        strings kept as given and objects serialized (densekit module names; the
        `.keras` writer maps them to Keras').
        """
        from densekit import losses as losses_module
        from densekit import metrics as metrics_module
        from densekit import optimizers as optimizers_module

        if not getattr(self, "compiled", False) or self._trainer is None:
            return {}
        args = self._compile_args

        def ser(obj, family):
            if obj is None or isinstance(obj, (str, bool, int, float)):
                return obj
            if isinstance(obj, (list, tuple)):
                return [ser(o, family) for o in obj]
            if isinstance(obj, dict):
                return {k: ser(v, family) for k, v in obj.items()}
            return family.serialize(obj)

        return {
            "optimizer": optimizers_module.serialize(self._trainer.optimizer),
            "loss": ser(args["loss"], losses_module),
            "loss_weights": args["loss_weights"],
            "metrics": ser(args["metrics"], metrics_module),
            "weighted_metrics": ser(args["weighted_metrics"], metrics_module),
            "run_eagerly": args["run_eagerly"],
            "steps_per_execution": args["steps_per_execution"],
            "jit_compile": args["jit_compile"],
        }

    def compile_from_config(self, config):
        """Compile from a :meth:`get_compile_config` dict (Keras' names accepted),
        then build the optimizer on the trainable weights when the model is built."""
        from densekit import losses as losses_module
        from densekit import metrics as metrics_module
        from densekit import optimizers as optimizers_module

        if not isinstance(config, dict):
            raise TypeError(
                f"Argument `config` must be a dict. Received: {type(config).__name__}"
            )
        config = dict(config)

        def de(obj, family):
            if isinstance(obj, list):
                return [de(o, family) for o in obj]
            if isinstance(obj, dict) and "class_name" in obj:
                return family.deserialize(obj)
            return obj

        if isinstance(config.get("optimizer"), dict):
            config["optimizer"] = optimizers_module.deserialize(config["optimizer"])
        if "loss" in config:
            config["loss"] = de(config["loss"], losses_module)
        for key in ("metrics", "weighted_metrics"):
            if key in config:
                config[key] = de(config[key], metrics_module)
        self.compile(**config)
        if self.built and self.trainable_weights:
            self.optimizer.build(self.trainable_weights)

    def _assert_compiled(self):
        if not getattr(self, "compiled", False) or getattr(self, "_trainer", None) is None:
            raise ValueError("You must call `compile()` before using the model.")
        return self._trainer

    @property
    def optimizer(self):
        """The compiled optimizer; settable. As in Keras, an uncompiled model has no
        such attribute (AttributeError, so ``hasattr(model, "optimizer")`` is False)."""
        trainer = getattr(self, "_trainer", None)
        if trainer is None:
            try:
                return self.__dict__["_optimizer_unattached"]
            except KeyError:
                raise AttributeError(
                    f"'{type(self).__name__}' object has no attribute 'optimizer'"
                ) from None
        return trainer.optimizer

    @optimizer.setter
    def optimizer(self, value):
        trainer = getattr(self, "_trainer", None)
        if trainer is None:
            self._optimizer_unattached = value
        else:
            trainer.optimizer = value
            trainer._grad_key = None  # re-index the weights in the new optimizer

    @property
    def loss(self):
        """The `loss` argument given to `compile` (None before)."""
        trainer = getattr(self, "_trainer", None)
        return None if trainer is None else trainer.loss_id

    @property
    def metrics(self):
        """The loss tracker ('loss') and, with metrics, the 'compile_metrics' container."""
        trainer = getattr(self, "_trainer", None)
        return [] if trainer is None else trainer.metrics

    @property
    def metrics_names(self):
        """Names of :attr:`metrics` (Keras 3: ``['loss', 'compile_metrics']``)."""
        return [m.name for m in self.metrics]

    def reset_metrics(self):
        """Reset the state of every metric."""
        for m in self.metrics:
            m.reset_state()

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Train the model for `epochs` epochs (Keras 3.15's ``Model.fit``).

        Parameters
        ----------
        x, y : ndarray, or x a generator / iterable of ``(x, y[, sample_weight])`` batches
            With a generator or iterable, `y` and `sample_weight` must be None.
        batch_size : int, default=None (32)
            Samples per step for array inputs (a positive integer; Keras silently
            takes 32 for 0, densekit raises).
        epochs, initial_epoch : int
            Train epochs ``initial_epoch .. epochs - 1``.
        verbose : {'auto', 0, 1, 2}
            0 silent, 1 a progress bar, 2 one line per epoch; 'auto' is 1 when stdout
            is a terminal and 2 otherwise.
        callbacks : list of Callback, optional
        validation_split : float in [0, 1)
            The LAST fraction of the arrays (before shuffling) is held out.
            (Keras 3.15 accepts values outside [0, 1) and slices nonsense; densekit
            raises.)
        validation_data : (x, y[, sample_weight]) or an iterable of batches
        shuffle : bool or 'batch'
            Shuffles array inputs every epoch with NumPy's global generator
            (``np.random.permutation``, as Keras' NumPy iterator, including the one
            extra draw of Keras' first-fit build): after the same
            ``np.random.seed`` densekit and Keras 3.15 visit the samples in the
            same order.
        class_weight : dict, optional
            Class index -> weight, turned into sample weights (Keras' rule).
        sample_weight : ndarray, optional
        steps_per_epoch, validation_steps : int, optional
            Batches per epoch / per validation; iteration continues where the
            previous epoch stopped (a generator that runs out ends training with
            Keras' warning).
        validation_batch_size : int, optional
        validation_freq : int, default=1
            Validate every this many epochs.

        Returns
        -------
        History
            ``history.history``: ``{'loss': [...], 'accuracy': [...], 'val_loss': ...}``,
            the loss being the total (regularization penalties included), averaged
            over the epoch's samples.

        Notes
        -----
        Dropout layers act only here (and in `train_on_batch`). With fixed seeds
        (initializers, Dropout, ``np.random.seed`` for shuffling) the weights after
        `fit` are the same on every run. Across thread counts they are the same too,
        except where BLAS's GEMMs (forward and backward, scipy's BLAS) round
        differently for different thread counts; densekit's own kernels do not.
        """
        trainer = self._assert_compiled()
        return trainer.fit(x, y, batch_size, epochs, verbose, callbacks, validation_split,
                           validation_data, shuffle, class_weight, sample_weight,
                           initial_epoch, steps_per_epoch, validation_steps,
                           validation_batch_size, validation_freq)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False):
        """The loss and metrics on `x`, `y` (Keras 3.15's ``Model.evaluate``).

        Returns the loss alone when there are no metrics, else a list in
        ``metrics_names`` order flattened (``[loss, accuracy]``), or a dict with
        `return_dict`.
        """
        from densekit.models._trainer import _check_positive_int, resolve_verbose

        trainer = self._assert_compiled()
        batch_size = _check_positive_int(batch_size, "batch_size")
        steps = _check_positive_int(steps, "steps")
        verbose = resolve_verbose(verbose)
        data = trainer.make_data(x, y, sample_weight, batch_size, steps, False, None)
        callbacks = CallbackList(callbacks, add_progbar=verbose != 0, model=self,
                                 verbose=verbose, epochs=1, steps=data.steps)
        trainer._ws = {}
        logs = trainer.evaluate_data(data, callbacks, effective_n_threads(None))
        trainer._ws = {}
        logs = {k: float(v) for k, v in logs.items()}
        if return_dict:
            return logs
        return trainer.flatten_in_order(logs)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None,
                       return_dict=False):
        """One training step on one batch; its loss and metrics (metrics reset first, as Keras)."""
        from densekit.models._trainer import _as_array, class_weight_to_sample_weights

        trainer = self._assert_compiled()
        if class_weight is not None:
            if sample_weight is not None:
                raise ValueError(
                    "You cannot `class_weight` and `sample_weight` at the same time."
                )
            sample_weight = class_weight_to_sample_weights(_as_array(y, "y"), class_weight)
        trainer.reset_metrics()
        logs = trainer.train_step(x, y, sample_weight, effective_n_threads(None))
        logs = {k: float(v) for k, v in logs.items()}
        return logs if return_dict else trainer.flatten_in_order(logs)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """The loss and metrics of one batch (metrics reset first, as Keras)."""
        trainer = self._assert_compiled()
        trainer.reset_metrics()
        logs = trainer.test_step(x, y, sample_weight, effective_n_threads(None))
        logs = {k: float(v) for k, v in logs.items()}
        return logs if return_dict else trainer.flatten_in_order(logs)

    def predict_on_batch(self, x):
        """The outputs for one batch `x` (inference mode)."""
        x = self._prepare_input(x)
        return self.predict(x, batch_size=max(1, x.shape[0]), verbose=0)

    # --------------------------------------------------------------- weights
    def _check_built(self, what):
        if not self.built:
            raise ValueError(
                f"You tried to call `{what}` on Sequential model '{self.name}', but the "
                "model isn't built. You can build it manually via: "
                "`model.build(input_shape)`."
            )

    @property
    def weights(self):
        """All layers' weights in order (kernel, bias of each layer)."""
        return [w for layer in self.layers for w in layer.weights]

    @property
    def trainable_weights(self):
        if not self.trainable:
            return []
        return [w for layer in self.layers for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self):
        if not self.trainable:
            return self.weights
        return [w for layer in self.layers for w in layer.non_trainable_weights]

    def count_params(self):
        """Total number of weight scalars (ValueError while unbuilt)."""
        self._check_built("count_params")
        return int(sum(w.size for w in self.weights))

    def get_weights(self):
        """Copies of all weights, in `weights` order."""
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        """Set all weights from a list of arrays; nothing is assigned unless all match."""
        weights = list(weights)
        expected = self.weights
        if len(weights) != len(expected):
            raise ValueError(
                f"You called `set_weights(weights)` on model '{self.name}' "
                f"with a weight list of length {len(weights)}, but the model "
                f"was expecting {len(expected)} weights."
            )
        checked = []
        i = 0
        for layer in self.layers:
            k = len(layer.weights)
            checked.append(layer._check_weights(weights[i:i + k]))
            i += k
        for layer, values in zip(self.layers, checked):
            layer._assign_weights(values)

    def apply_constraints(self):
        """Apply every layer's weight constraints in place."""
        for layer in self.layers:
            layer.apply_constraints()

    @property
    def losses(self):
        """Activity losses of the last call, then the weight-regularization losses."""
        activity = [v for layer in self.layers for v in layer._activity_losses]
        weight = []
        for layer in self.layers:
            weight.extend(layer.losses[len(layer._activity_losses):])
        return activity + weight

    def save_weights(self, filepath):
        """Save the weights to `filepath`: '.weights.h5' (Keras 3 layout, needs h5py) or '.npz'."""
        from densekit.models._weights_io import save_weights

        save_weights(self, filepath)

    def load_weights(self, filepath):
        """Load weights saved by :meth:`save_weights` or by Keras 3 ``save_weights``.

        Every array is checked against the architecture before anything is
        assigned: on a mismatch a ValueError is raised and the model keeps its
        weights.
        """
        from densekit.models._weights_io import load_weights

        load_weights(self, filepath)

    def save(self, filepath, overwrite=True, zipped=None, **kwargs):
        """Save the whole model as a Keras 3 `.keras` archive (Keras' ``model.save``).

        The archive holds config.json (the architecture, with Keras' module
        names, so real Keras loads it), metadata.json and model.weights.h5 (the
        weights and, for a compiled model, the optimizer's state). Read it back
        with :func:`densekit.models.load_model` or Keras'
        ``keras.models.load_model``.

        Parameters
        ----------
        filepath : str or os.PathLike
            Must end in '.keras'. The archive is written to a temporary file
            beside it and renamed onto it when complete, so a failed save leaves
            an existing file intact.
        overwrite : bool, default=True
            If False and `filepath` exists, raise FileExistsError (Keras asks
            interactively instead).
        zipped : None or True
            Only the zipped archive is supported.
        **kwargs
            ``include_optimizer`` is accepted and, as in Keras for `.keras`
            files, has no effect; anything else raises ValueError.
        """
        from densekit.models._saving import save_model

        save_model(self, filepath, overwrite=overwrite, zipped=zipped, **kwargs)

    # ---------------------------------------------------------------- summary
    def summary(self, line_length=None, positions=None, print_fn=None):
        """Print Keras' summary table: Layer (type), Output Shape, Param #, then totals.

        Parameters
        ----------
        line_length : int, optional
            Table width (default: min(88, terminal width - 4), as Keras).
        positions : list of float, optional
            Relative column ends (default [0.45, 0.80, 1.0]).
        print_fn : callable, optional
            Called with each line (default: print to stdout).
        """
        from densekit.models._summary import summary_lines

        lines = summary_lines(self, line_length=line_length, positions=positions)
        if print_fn is None:
            print("\n".join(lines))
        else:
            for line in lines:
                print_fn(line)

    # ----------------------------------------------------------------- config
    def get_config(self):
        """{name, trainable, dtype, layers (InputLayer first when known), build_input_shape}."""
        config = {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": self._layers[0].dtype if self._layers else "float32",
            "layers": [serialize_layer(layer) for layer in self._layers],
        }
        if self.built:
            config["build_input_shape"] = self._layers[0].batch_shape
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """A new model from :meth:`get_config` output (or a Keras 3 Sequential config)."""
        if not isinstance(config, dict) or "name" not in config or "layers" not in config:
            raise ValueError(
                "A Sequential model configuration must be "
                "a dictionary containing the 'name' and "
                f"'layers' keys. Received: config={config}"
            )
        model = cls(name=config["name"], trainable=config.get("trainable", True))
        for layer_config in config["layers"]:
            model.add(deserialize_layer(layer_config, custom_objects), rebuild=False)
        if model._layers:
            model._maybe_rebuild()
        shape = config.get("build_input_shape")
        if not model.built and shape is not None and model.layers:
            model.build(tuple(shape))
        return model

    def to_json(self, **kwargs):
        """The model config as a JSON string (`densekit.models.model_from_json` reads it)."""
        record = {
            "module": "densekit.models",
            "class_name": "Sequential",
            "config": self.get_config(),
            "registered_name": None,
        }
        if self.built:
            record["build_config"] = {"input_shape": self._layers[0].batch_shape}
        return json.dumps(record, default=_json_default, **kwargs)

    def __repr__(self):
        return f"<Sequential name={self.name}, built={self.built}>"


class _ShapeOnly:
    """Stands in for an array in a layer's input check when only the shape is known."""

    def __init__(self, shape):
        self.shape = tuple(1 if d is None else d for d in shape)
        self.ndim = len(shape)


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, tuple):
        return list(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _json_kind(value):
    """How JSON names the type of `value` (for error messages)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def model_from_json(json_string, custom_objects=None):
    """A model from :meth:`Sequential.to_json` output (Keras 3 Sequential JSON too).

    The document is untrusted input: anything malformed (not JSON, nested too
    deeply, a missing or mistyped key, a bad layer config) raises one ValueError
    that says what is wrong and where (for example ``config.layers[2]``).
    """
    if not isinstance(json_string, (str, bytes, bytearray)):
        raise ValueError(
            "Argument `json_string` must be a JSON string. "
            f"Received: json_string of type {type(json_string).__name__}"
        )
    try:
        record = json.loads(json_string)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"Argument `json_string` is not valid JSON: {exc}") from None
    except RecursionError:
        raise ValueError(
            "Argument `json_string` is nested too deeply to be a model (JSON parser "
            "recursion limit reached)."
        ) from None
    if not isinstance(record, dict) or record.get("class_name") != "Sequential":
        raise ValueError(
            "densekit can only rebuild Sequential models. Received class_name="
            f"{record.get('class_name') if isinstance(record, dict) else record!r}"
        )
    if "config" not in record:
        raise ValueError("The model JSON has no 'config' key: expected {'class_name': "
                         "'Sequential', 'config': {'name': ..., 'layers': [...]}}.")
    config = record["config"]
    if not isinstance(config, dict):
        raise ValueError(f"The model JSON's 'config' must be an object; found {_json_kind(config)}.")
    for key in ("name", "layers"):
        if key not in config:
            raise ValueError(f"The model JSON's 'config' has no {key!r} key.")
    layers = config["layers"]
    if not isinstance(layers, list):
        raise ValueError(
            "The model JSON's 'config.layers' must be an array of layer configs; "
            f"found {_json_kind(layers)}: {str(layers)[:80]!r}."
        )
    for i, layer in enumerate(layers):
        where = f"'config.layers[{i}]'"
        if not isinstance(layer, dict):
            raise ValueError(
                f"The model JSON's {where} must be a layer config object; found "
                f"{_json_kind(layer)}."
            )
        if not isinstance(layer.get("class_name"), str):
            raise ValueError(f"The model JSON's {where} needs a string 'class_name'.")
        if not isinstance(layer.get("config", {}), dict):
            raise ValueError(
                f"The model JSON's {where}.config must be an object; found "
                f"{_json_kind(layer['config'])}."
            )
    try:
        return Sequential.from_config(config, custom_objects=custom_objects)
    except (RecursionError, KeyError, TypeError, AttributeError, IndexError, OverflowError,
            ValueError) as exc:
        error = exc
    # Only on this failure path: find the layer at fault by deserializing each alone.
    where = "'config'"
    for i, layer in enumerate(layers):
        try:
            deserialize_layer(layer, custom_objects)
        except (RecursionError, KeyError, TypeError, AttributeError, IndexError,
                OverflowError, ValueError):
            where = f"'config.layers[{i}]' ({layer['class_name']})"
            break
    if isinstance(error, RecursionError):
        raise ValueError(f"The model JSON's {where} is nested too deeply to be a model.") from None
    if isinstance(error, ValueError):
        raise ValueError(f"The model JSON's {where} is invalid: {error}") from None
    raise ValueError(
        f"The model JSON's {where} is malformed ({type(error).__name__}: {error})."
    ) from None
