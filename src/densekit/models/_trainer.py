"""Training orchestration for `Sequential` (private): compile, fit, evaluate, *_on_batch.

Keras 3.15 semantics (keras/src/trainers/trainer.py, compile_utils.py,
data_adapters/): the names, defaults, log keys, hook order and messages; the
computation is densekit's own.

One training step (:meth:`Trainer.train_step`):

1. forward through every layer with ``training=True``, each layer keeping in its
   workspace what its backward needs (inputs; pre-activations only where the
   derivative needs them);
2. the loss and its gradient with respect to the output with
   ``loss.value_and_grad`` -- or, for a softmax/sigmoid last Dense layer whose loss
   ``can_fuse`` it, ``loss.fused_value_and_grad`` on the logits;
3. the regularization penalties (activity penalties divided by the batch size,
   as Keras) added to the loss, their gradients to the weights' gradients;
4. backward through the layers in reverse, into gradient buffers allocated once
   per fit;
5. ``optimizer._apply_checked`` (one fused step over all weights), then every
   weight constraint, in place.

Nothing is written to the weights before step 5, so an error in steps 1-4 (a bad
batch, say) leaves the model as it was before that step.

Workspaces: one dict per layer and per batch shape, kept for the whole fit
(usually two: the full batch and the last, partial one).
"""

import math
import numbers
import sys
import warnings

import numpy as np

from densekit import losses as losses_module
from densekit import metrics as metrics_module
from densekit import optimizers as optimizers_module
from densekit._threads import effective_n_threads, threads_for
from densekit.callbacks import CallbackList

__all__ = ["Trainer", "CompileMetrics"]

# Rough flops per value of the widest activation in one step's elementwise
# kernels (epilogue, derivative, loss head), for threads_for (Trainer._step_threads).
_STEP_FLOPS_PER_VALUE = 8


# Keras 3.15's metric directions ("up": to maximise), read by the callbacks'
# mode="auto"; given to the resolved metrics that do not carry one themselves.
_UP = {"Accuracy", "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy",
       "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy", "Precision", "Recall",
       "AUC", "CosineSimilarity"}
_DOWN = {"Hinge", "SquaredHinge", "CategoricalHinge", "BinaryCrossentropy",
         "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "MeanSquaredError",
         "MeanAbsoluteError", "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError",
         "RootMeanSquaredError", "LogCoshError", "KLDivergence", "Poisson"}


def _set_direction(metric):
    if getattr(metric, "_direction", None) is not None:
        return
    cls = type(metric).__name__
    if cls in _UP:
        metric._direction = "up"
    elif cls in _DOWN:
        metric._direction = "down"
    elif cls == "MeanMetricWrapper":
        fn = getattr(metric, "_fn", None) or getattr(metric, "fn", None)
        if fn is not None and (fn in losses_module.ALL_OBJECTS
                               or type(fn) in losses_module.ALL_OBJECTS):
            metric._direction = "down"


class CompileMetrics:
    """The compiled metrics as one container named 'compile_metrics' (as Keras).

    ``result()`` is a dict of the metrics' results, which the logs flatten.
    """

    def __init__(self, metrics, weighted_metrics):
        self.name = "compile_metrics"
        self._direction = None
        self._metrics_ids = list(metrics or [])
        self._weighted_ids = list(weighted_metrics or [])
        self.metrics = []
        self.unweighted = []
        self.weighted = []
        self.built = False

    def build(self, y_true_shape, y_pred_shape, loss):
        for ident in self._metrics_ids:
            self.unweighted.append(metrics_module._resolve(ident, y_true_shape, y_pred_shape,
                                                           loss))
        for ident in self._weighted_ids:
            self.weighted.append(metrics_module._resolve(ident, y_true_shape, y_pred_shape,
                                                         loss))
        self.metrics = self.unweighted + self.weighted
        for m in self.metrics:
            _set_direction(m)
        self.built = True

    def update_state(self, y_true, y_pred, sample_weight):
        for m in self.unweighted:
            m.update_state(y_true, y_pred)
        for m in self.weighted:
            m.update_state(y_true, y_pred, sample_weight=sample_weight)

    def reset_state(self):
        for m in self.metrics:
            m.reset_state()

    def result(self):
        """{log name: value}, named as Keras' CompileMetrics.result: a repeated name
        gets "_1", "_2", ...; a weighted metric whose name is taken becomes
        "weighted_<name>" (then "_1", ...)."""
        counters = {}
        results = {}

        def unique(name):
            index = counters.get(name)
            if index is None:
                counters[name] = 1
                return name
            counters[name] = index + 1
            return f"{name}_{index}"

        for m in self.unweighted:
            results[unique(m.name)] = m.result()
        for m in self.weighted:
            name = m.name if m.name not in counters else "weighted_" + m.name
            results[unique(name)] = m.result()
        return results


def _check_positive_int(value, name, allow_none=True):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(
            f"Argument `{name}` must be a positive integer. Received: {name}={value!r}"
        )
    return int(value)


def _as_array(value, name):
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"Argument `{name}` must hold real numbers. Received dtype {arr.dtype}.")
    return arr


def _unpack(data):
    """(x, y, sample_weight) from a batch: x, (x,), (x, y) or (x, y, sample_weight)."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data
    raise ValueError(
        "Data is expected to be in format `x`, `(x,)`, `(x, y)`, "
        f"or `(x, y, sample_weight)`, found: {data}"
    )


def class_weight_to_sample_weights(y, class_weight):
    """Keras' rule: one weight per sample from its class (argmax of one-hot targets)."""
    y = np.asarray(y)
    sample_weight = np.ones((y.shape[0],), dtype=np.float32)
    if y.ndim > 1:
        y = np.argmax(y, axis=-1) if y.shape[-1] != 1 else np.squeeze(y, axis=-1)
    y = np.round(y).astype("int32")
    for i in range(y.shape[0]):
        sample_weight[i] = class_weight.get(int(y[i]), 1.0)
    return sample_weight


class _ArrayData:
    """NumPy arrays in batches, as Keras' ArrayDataAdapter (numpy iterator)."""

    def __init__(self, x, y, sample_weight, batch_size, steps, shuffle):
        self.x, self.y, self.sw = x, y, sample_weight
        n = x.shape[0]
        for label, arr in (("y", y), ("sample_weight", sample_weight)):
            if arr is not None and (arr.ndim == 0 or arr.shape[0] != n):
                sizes = {"x": n, label: arr.shape[0] if arr.ndim else arr.shape}
                raise ValueError(
                    "Data cardinality is ambiguous. "
                    "Make sure all arrays contain the same number of samples."
                    + "".join(f"'{k}' sizes: {v}\n" for k, v in sizes.items())
                )
        if not batch_size:
            batch_size = int(math.ceil(n / steps)) if steps else 32
        self.batch_size = batch_size
        self.n = n
        self.n_batches = int(math.ceil(n / batch_size)) if n else 0
        self.steps = steps if steps is not None else self.n_batches
        self.shuffle = shuffle
        self._iter = None
        self._bufs = {}

    def _gather(self, arr, idx, key):
        """arr[idx] into a buffer kept per (array, batch length): no allocation per step."""
        if arr is None:
            return None
        buf = self._bufs.get((key, len(idx)))
        if buf is None:
            buf = self._bufs[(key, len(idx))] = np.empty((len(idx),) + arr.shape[1:], arr.dtype)
        np.take(arr, idx, axis=0, out=buf)
        return buf

    def _epoch(self):
        n, bs = self.n, self.batch_size
        if self.shuffle and self.shuffle != "batch":
            order = np.random.permutation(n)
        else:
            order = None
        for start in range(0, n, bs):
            stop = min(start + bs, n)
            if order is not None:
                idx = order[start:stop]
            elif self.shuffle == "batch":
                idx = np.random.permutation(stop - start) + start
            else:
                # contiguous slices are views: nothing is copied
                yield (self.x[start:stop], None if self.y is None else self.y[start:stop],
                       None if self.sw is None else self.sw[start:stop])
                continue
            yield (self._gather(self.x, idx, 0), self._gather(self.y, idx, 1),
                   self._gather(self.sw, idx, 2))

    def peek(self):
        """What Keras' first-fit symbolic build draws from NumPy's generator.

        Keras 3.15 builds its compiled loss and metrics from a first batch taken
        from a fresh iterator over the data, which for shuffled arrays draws one
        ``np.random.permutation`` (of all samples, or of the first batch with
        'batch'). densekit draws the same, so that after ``np.random.seed(s)`` both
        libraries visit the samples in the same order.
        """
        if self.shuffle == "batch":
            np.random.permutation(min(self.batch_size, self.n))
        elif self.shuffle:
            np.random.permutation(self.n)

    def batches(self):
        """One epoch's batches (with steps_per_epoch: continuing across epochs)."""
        if self.steps == self.n_batches:
            yield from self._epoch()
            return
        for _ in range(self.steps):
            if self._iter is None:
                self._iter = self._epoch()
            try:
                yield next(self._iter)
            except StopIteration:
                self._iter = self._epoch()
                try:
                    yield next(self._iter)
                except StopIteration:
                    return


class _IterData:
    """A Python generator or an iterable of batches."""

    def __init__(self, source, steps):
        self.source = source
        self.steps = steps
        self.is_generator = iter(source) is source
        self._iter = None
        self.n_batches = steps

    def batches(self):
        if self.steps is None:
            it = iter(self.source)
            for data in it:
                yield _unpack(data)
            return
        for _ in range(self.steps):
            if self._iter is None:
                self._iter = iter(self.source)
            try:
                data = next(self._iter)
            except StopIteration:
                if self.is_generator:
                    warnings.warn(
                        "Your input ran out of data; interrupting training. "
                        "Make sure that your dataset or generator can generate "
                        "at least `steps_per_epoch * epochs` batches. ",
                        stacklevel=4,
                    )
                    return
                self._iter = iter(self.source)
                try:
                    data = next(self._iter)
                except StopIteration:
                    return
            yield _unpack(data)


def _is_iterable_source(x):
    return not isinstance(x, (np.ndarray, list, tuple, numbers.Number)) and hasattr(x, "__iter__")


def _is_batches(x):
    """A list/tuple of (x, y[, sw]) batches rather than one array-like."""
    return (isinstance(x, (list, tuple)) and len(x) > 0
            and all(isinstance(b, tuple) and 1 < len(b) <= 3 for b in x))


class Trainer:
    """The compiled state of one model (see the module docstring)."""

    def __init__(self, model, optimizer, loss, loss_weights, metrics, weighted_metrics):
        self.model = model
        self.optimizer = optimizers_module.get(optimizer)
        if self.optimizer is None:
            raise ValueError(
                "Argument `optimizer` must be an optimizer or its name. Received: optimizer=None"
            )
        self.loss_id = loss
        if loss is not None and not (isinstance(loss, str) and loss.lower() in ("crossentropy", "ce")):
            losses_module.get(loss)  # unknown names fail now, with Keras' message
        if isinstance(loss, (list, tuple, dict)):
            raise ValueError(
                "densekit's Sequential has one output: `loss` must be a single loss. "
                f"Received: loss={loss!r}"
            )
        if loss_weights is None:
            self.loss_weight = 1.0
        else:
            lw = loss_weights
            if isinstance(lw, (list, tuple)) and len(lw) == 1:
                lw = lw[0]
            if isinstance(lw, dict) and len(lw) == 1:
                lw = next(iter(lw.values()))
            if isinstance(lw, bool) or not isinstance(lw, numbers.Real):
                raise ValueError(
                    "Argument `loss_weights` must be a float (one output). "
                    f"Received: loss_weights={loss_weights!r}"
                )
            self.loss_weight = float(lw)
        for name, value in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
            if value is not None and not isinstance(value, (list, tuple)):
                raise ValueError(
                    f"Expected `{name}` argument to be a list, tuple, or dict. "
                    f"Received instead: {name}={value} of type {type(value)}"
                )
        self.loss = None
        dtype = model._layers[-1].dtype if model._layers else "float32"
        self.loss_tracker = metrics_module.Mean(name="loss", dtype=dtype)
        self.compile_metrics = (
            CompileMetrics(metrics, weighted_metrics) if (metrics or weighted_metrics) else None
        )
        self._grads = None
        self._grad_key = None
        self._ws = {}

    # ------------------------------------------------------------ structure
    @property
    def metrics(self):
        out = [self.loss_tracker]
        if self.compile_metrics is not None:
            out.append(self.compile_metrics)
        return out

    def reset_metrics(self):
        for m in self.metrics:
            m.reset_state()

    def _ensure_built(self, x, y):
        if (self.loss is not None or self.loss_id is None) and (
                self.compile_metrics is None or self.compile_metrics.built):
            return
        y_pred_shape = (None,) + tuple(self.model.output_shape[1:])
        if self.loss is None and self.loss_id is not None:
            self.loss = losses_module._resolve(self.loss_id, np.shape(y), y_pred_shape)
        if self.compile_metrics is not None and not self.compile_metrics.built:
            self.compile_metrics.build(np.shape(y), y_pred_shape, self.loss)

    def _prepare(self, x):
        return np.ascontiguousarray(self.model._prepare_input(x))

    def _layers_info(self):
        """Trainable weights, their layers' grad slots, regularizers and constraints."""
        model = self.model
        layers = model.layers
        key = (model.trainable,) + tuple(
            (id(layer), layer.trainable) + tuple(id(entry[1]) for entry in layer._weights)
            for layer in layers)
        if self._grad_key == key:
            return
        self._grad_key = key
        self._layers = layers
        self._layer_grads = []
        self._tw = []
        self._grads = []
        self._reg = []  # (weight, grad buffer, regularizer, scratch)
        self._cons = []  # (weight, constraint, in_place)
        import inspect

        for layer in layers:
            trainable = model.trainable and layer.trainable
            bufs = []
            for _, w, reg, cons, t in layer._weights:
                if trainable and t:
                    g = np.zeros_like(w)
                    bufs.append(g)
                    self._tw.append(w)
                    self._grads.append(g)
                    if reg is not None:
                        self._reg.append((w, g, reg, np.empty_like(w)))
                    if cons is not None:
                        try:
                            in_place = "out" in inspect.signature(cons).parameters
                        except (TypeError, ValueError):  # pragma: no cover
                            in_place = False
                        self._cons.append((w, cons, in_place))
            self._layer_grads.append(bufs if bufs else None)
        self._penalty_regs = [
            (w, reg) for layer in layers for _, w, reg, _, _ in layer._weights if reg is not None
        ]
        if self._tw:
            if not self.optimizer.built:
                self.optimizer.build(self._tw)
            self._indices = [self.optimizer._get_variable_index(w) for w in self._tw]
            if sorted(self._indices) != self._indices:
                order = sorted(range(len(self._tw)), key=self._indices.__getitem__)
                self._tw = [self._tw[k] for k in order]
                self._grads_sorted = [self._grads[k] for k in order]
                self._indices = [self._indices[k] for k in order]
            else:
                self._grads_sorted = self._grads
        # Values per sample of the widest activation (unknown sizes count as 1).
        shape = tuple(model._layers[0].batch_shape)
        widest = math.prod(d or 1 for d in shape[1:])
        for layer in layers:
            shape = tuple(layer.compute_output_shape(shape))
            widest = max(widest, math.prod(d or 1 for d in shape[1:]))
        self._widest = widest
        self._first_trainable = next(
            (i for i, g in enumerate(self._layer_grads) if g is not None), len(layers)
        )

    def _workspaces(self, shape, fuse):
        key = (shape, fuse)
        ws = self._ws.get(key)
        if ws is None:
            ws = [dict() for _ in self._layers]
            if fuse:
                ws[-1]["logits"] = True
            if len(self._ws) > 8:  # a generator with ever-changing batch sizes
                self._ws.clear()
            self._ws[key] = ws
        return ws

    def _fusable(self):
        last = self._layers[-1]
        from densekit.layers import Dense

        if self.loss is None or not isinstance(last, Dense) or last._fused is None:
            return False
        can = getattr(self.loss, "can_fuse", None)
        return bool(can is not None and can(last.activation))

    # ------------------------------------------------------------- one step
    def _step_threads(self, rows, n_threads):
        """Threads of one step's elementwise kernels, by work size through the one
        helper (``threads_for``; about _STEP_FLOPS_PER_VALUE flops per value of the
        widest activation). Below PARALLEL_WORK a step runs them on the calling
        thread: a thread team woken beside the BLAS threads of the step's GEMMs
        fights them for the cores (measured on 2 cores, the 784-512-256-10 MLP at
        batch 128: 35.6 ms per step with a two-thread team, 5.3 ms without;
        results do not depend on the thread count anyway)."""
        return threads_for(_STEP_FLOPS_PER_VALUE * rows * self._widest, n_threads)

    def _forward(self, x, training, n_threads, fuse):
        layers = self._layers
        ws = self._workspaces(x.shape, fuse)
        caches = []
        outs = []
        activity = 0.0
        h = x
        for layer, w in zip(layers, ws):
            h, cache = layer._train_forward(h, w, training, n_threads)
            caches.append(cache)
            outs.append(h)
            if layer.activity_regularizer is not None and h.ndim and h.shape[0]:
                activity += float(layer.activity_regularizer(h)) / h.shape[0]
        return h, caches, outs, ws, activity

    def _weight_penalty(self):
        return sum(float(reg(w)) for w, reg in self._penalty_regs)

    def _total_loss(self, value, penalty):
        """The reported loss: loss * loss_weight + penalties, in float32 (Keras' floatx)
        or in float64 for a float64 model."""
        dtype = np.float64 if np.result_type(value) == np.float64 else np.float32
        total = dtype(value)
        if self.loss_weight != 1.0:
            total = dtype(total * dtype(self.loss_weight))
        if penalty:
            total = dtype(total + dtype(penalty))
        return total

    def train_step(self, x, y, sample_weight, n_threads):
        x = self._prepare(x)
        if y is None:
            raise ValueError("Training requires targets: received y=None.")
        y = _as_array(y, "y")
        self._ensure_built(x, y)
        if self.loss is None:
            raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`.")
        self._layers_info()
        if not self._tw:
            raise ValueError("The model has no trainable weights to train.")
        n_threads = self._step_threads(x.shape[0], n_threads)
        fuse = self._fusable()
        y_pred, caches, outs, ws, activity = self._forward(x, True, n_threads, fuse)
        if fuse:
            logits = caches[-1][1].reshape(y_pred.shape)
            out = ws[-1].get("dlast")
            if out is None:
                out = ws[-1]["dlast"] = np.empty(y_pred.shape, dtype=y_pred.dtype)
            value, grad = self.loss.fused_value_and_grad(
                y, logits, self._layers[-1].activation, sample_weight, out=out,
                n_threads=n_threads)
        else:
            out = ws[-1].get("dlast")
            if out is None:
                out = ws[-1]["dlast"] = np.empty(y_pred.shape, dtype=y_pred.dtype)
            value, grad = self.loss.value_and_grad(y, y_pred, sample_weight, out=out,
                                                   n_threads=n_threads)
        if np.ndim(value):
            raise ValueError(
                "The loss must reduce to a scalar in training. Received a loss with "
                f"reduction={self.loss.reduction!r}."
            )
        if self.loss_weight != 1.0:
            np.multiply(grad, grad.dtype.type(self.loss_weight), out=grad)
        penalty = self._weight_penalty() + activity
        total = self._total_loss(value, penalty)
        # Backward, into the per-fit gradient buffers.
        layers = self._layers
        g = grad
        for i in range(len(layers) - 1, -1, -1):
            layer = layers[i]
            if layer.activity_regularizer is not None and outs[i].ndim and outs[i].shape[0]:
                extra = layer.activity_regularizer.gradient(outs[i])
                g = g + extra / extra.dtype.type(outs[i].shape[0])
            need_dx = i > self._first_trainable
            g = layer._backward(caches[i], g, need_dx, self._layer_grads[i], ws[i], n_threads)
            if not need_dx and i <= self._first_trainable:
                break
        for w, gbuf, reg, scratch in self._reg:
            reg.gradient(w, out=scratch, n_threads=n_threads)
            np.add(gbuf, scratch, out=gbuf)
        # From here on the weights change.
        self.optimizer._apply_checked(self._indices, self._grads_sorted)
        for w, cons, in_place in self._cons:
            if in_place:
                cons(w, out=w)
            else:
                w[...] = cons(w)
        self.loss_tracker.update_state(total, sample_weight=x.shape[0])
        if self.compile_metrics is not None:
            self.compile_metrics.update_state(y, y_pred, sample_weight)
        return self.get_metrics_result()

    def test_step(self, x, y, sample_weight, n_threads):
        x = self._prepare(x)
        if y is None:
            raise ValueError("Evaluation requires targets: received y=None.")
        y = _as_array(y, "y")
        self._ensure_built(x, y)
        self._layers_info()
        n_threads = self._step_threads(x.shape[0], n_threads)
        y_pred, _, _, _, activity = self._forward(x, False, n_threads, False)
        penalty = self._weight_penalty() + activity
        if self.loss is not None:
            value = self.loss(y, y_pred, sample_weight)
            if np.ndim(value):
                value = np.sum(value)
        else:
            value = 0.0
        total = self._total_loss(value, penalty)
        self.loss_tracker.update_state(total, sample_weight=x.shape[0])
        if self.compile_metrics is not None:
            self.compile_metrics.update_state(y, y_pred, sample_weight)
        return self.get_metrics_result()

    def get_metrics_result(self):
        out = {}
        for m in self.metrics:
            r = m.result()
            if isinstance(r, dict):
                out.update(r)
            else:
                out[m.name] = r
        return out

    def flatten_in_order(self, logs):
        names = []
        for m in self.metrics:
            if isinstance(m, CompileMetrics):
                names += [s.name for s in m.metrics]  # Keras' order: these names first
            else:
                names.append(m.name)
        results = [logs[n] for n in names if n in logs]
        results += [logs[k] for k in sorted(logs) if k not in names]
        return results[0] if len(results) == 1 else results

    # ----------------------------------------------------------- data
    def make_data(self, x, y, sample_weight, batch_size, steps, shuffle, class_weight):
        if _is_iterable_source(x) or _is_batches(x):
            if y is not None:
                raise ValueError(
                    "When providing `x` as a generator or an iterable of batches, "
                    "`y` should not be passed. Instead, the targets should be "
                    "included as part of the batches."
                )
            if sample_weight is not None:
                raise ValueError(
                    "When providing `x` as a generator or an iterable of batches, "
                    "`sample_weight` should not be passed. Instead, the sample "
                    "weights should be included as part of the batches."
                )
            if class_weight is not None:
                raise ValueError(
                    "Argument `class_weight` is only supported with NumPy array inputs."
                )
            return _IterData(x, steps)
        x = _as_array(x, "x")
        y = None if y is None else _as_array(y, "y")
        if sample_weight is not None:
            sample_weight = _as_array(sample_weight, "sample_weight")
        if class_weight is not None:
            if sample_weight is not None:
                raise ValueError(
                    "You cannot `class_weight` and `sample_weight` at the same time."
                )
            if y is None:
                raise ValueError("Argument `class_weight` needs targets `y`.")
            sample_weight = class_weight_to_sample_weights(y, class_weight)
        return _ArrayData(x, y, sample_weight, batch_size, steps, shuffle)

    # ------------------------------------------------------------ loops
    def fit(self, x, y, batch_size, epochs, verbose, callbacks, validation_split,
            validation_data, shuffle, class_weight, sample_weight, initial_epoch,
            steps_per_epoch, validation_steps, validation_batch_size, validation_freq):
        model = self.model
        batch_size = _check_positive_int(batch_size, "batch_size")
        epochs = _check_nonneg_int(epochs, "epochs")
        initial_epoch = _check_nonneg_int(initial_epoch, "initial_epoch")
        steps_per_epoch = _check_positive_int(steps_per_epoch, "steps_per_epoch")
        validation_steps = _check_positive_int(validation_steps, "validation_steps")
        validation_batch_size = _check_positive_int(validation_batch_size,
                                                    "validation_batch_size")
        validation_freq = _check_positive_int(validation_freq, "validation_freq",
                                              allow_none=False)
        verbose = resolve_verbose(verbose)
        if (isinstance(validation_split, bool) or not isinstance(validation_split, numbers.Real)
                or not 0 <= validation_split < 1):
            raise ValueError(
                "Argument `validation_split` must be a float in [0, 1). "
                f"Received: validation_split={validation_split!r}"
            )
        if shuffle not in (True, False, "batch"):
            raise ValueError(
                "Argument `shuffle` must be True, False or 'batch'. "
                f"Received: shuffle={shuffle!r}"
            )
        if validation_split and validation_data is None:
            if _is_iterable_source(x) or _is_batches(x):
                raise ValueError(
                    "Argument `validation_split` is only supported "
                    "for tensors or NumPy arrays."
                    f"Found incompatible type in the input: {[type(x)]}"
                )
            arrays = [_as_array(a, name) if a is not None else None
                      for a, name in ((x, "x"), (y, "y"), (sample_weight, "sample_weight"))]
            n = arrays[0].shape[0]
            split_at = int(math.floor(n * (1.0 - validation_split)))
            if split_at == 0 or split_at == n:
                raise ValueError(
                    f"Training data contains {n} samples, which is not "
                    "sufficient to split it into a validation and training set as "
                    f"specified by `validation_split={validation_split}`. Either "
                    "provide more data, or a different value for the "
                    "`validation_split` argument."
                )
            x, y, sample_weight = (None if a is None else a[:split_at] for a in arrays)
            validation_data = tuple(None if a is None else a[split_at:] for a in arrays)
        data = self.make_data(x, y, sample_weight, batch_size, steps_per_epoch, shuffle,
                              class_weight)
        val = None
        if validation_data is not None:
            if _is_iterable_source(validation_data) or _is_batches(validation_data):
                val = self.make_data(validation_data, None, None, None, validation_steps,
                                     False, None)
            else:
                vx, vy, vsw = _unpack(validation_data)
                val = self.make_data(vx, vy, vsw, validation_batch_size or batch_size,
                                     validation_steps, False, None)
        n_threads = effective_n_threads(None)
        steps = data.steps
        if not isinstance(callbacks, CallbackList):
            callbacks = CallbackList(callbacks, add_history=True, add_progbar=verbose != 0,
                                     model=model, verbose=verbose, epochs=epochs, steps=steps)
        unbuilt = (not model.built or (self.loss is None and self.loss_id is not None)
                   or (self.compile_metrics is not None and not self.compile_metrics.built))
        if unbuilt and isinstance(data, _ArrayData):
            data.peek()  # Keras' symbolic build (see _ArrayData.peek)
        model.stop_training = False
        self._ws = {}
        callbacks.on_train_begin()
        logs = {}
        training_logs = None
        for epoch in range(initial_epoch, epochs):
            self.reset_metrics()
            callbacks.on_epoch_begin(epoch)
            seen = False
            for step, (bx, by, bsw) in enumerate(data.batches()):
                callbacks.on_train_batch_begin(step)
                logs = self.train_step(bx, by, bsw, n_threads)
                seen = True
                callbacks.on_train_batch_end(step, logs)
                if model.stop_training:
                    break
            if not seen and epoch == initial_epoch:
                raise ValueError(
                    "Unable to infer the number of steps: the input yields no batch. "
                    "Make sure your data is not empty."
                )
            epoch_logs = dict(self.get_metrics_result())
            if val is not None and (epoch + 1) % validation_freq == 0:
                val_logs = self.evaluate_data(val, callbacks, n_threads)
                epoch_logs.update({"val_" + k: v for k, v in val_logs.items()})
            callbacks.on_epoch_end(epoch, epoch_logs)
            training_logs = epoch_logs
            if model.stop_training:
                break
        self._ws = {}
        callbacks.on_train_end(logs=training_logs)
        return model.history

    def evaluate_data(self, data, callbacks, n_threads):
        self.reset_metrics()
        callbacks.on_test_begin()
        logs = {}
        for step, (bx, by, bsw) in enumerate(data.batches()):
            callbacks.on_test_batch_begin(step)
            logs = self.test_step(bx, by, bsw, n_threads)
            callbacks.on_test_batch_end(step, logs)
        logs = self.get_metrics_result()
        callbacks.on_test_end(logs)
        return logs


def _check_nonneg_int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(
            f"Argument `{name}` must be a non-negative integer. Received: {name}={value!r}"
        )
    return int(value)


def resolve_verbose(verbose):
    """'auto' -> 1 on a terminal stdout, 2 otherwise (Keras' rule); 0/1/2 kept."""
    if verbose == "auto" and isinstance(verbose, str):
        stream = sys.stdout
        try:
            tty = stream is not None and stream.isatty()
        except (AttributeError, ValueError):
            tty = False
        return 1 if tty else 2
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError(
            f"Argument `verbose` must be one of 'auto', 0, 1, 2. Received: verbose={verbose!r}"
        )
    return int(verbose)
