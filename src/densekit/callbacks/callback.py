"""The `Callback` base class: the hooks `fit`, `evaluate` and `predict` call."""

__all__ = ["Callback"]


class Callback:
    """Base class for objects that hook into training, evaluation and prediction.

    Subclass it and override the hooks you need; every hook does nothing by
    default. The training loop calls the hooks through a :class:`CallbackList`
    (see :mod:`densekit.callbacks` for the order), after handing every callback
    the model (:meth:`set_model`) and the run's parameters (:meth:`set_params`).

    Attributes
    ----------
    params : dict or None
        The run's parameters, as given to :meth:`set_params`: ``fit`` passes
        ``{"verbose": ..., "epochs": ..., "steps": ...}`` (``steps`` is the number of
        batches per epoch, None when unknown).
    model : object or None
        The model the callback is attached to (read-only; set with :meth:`set_model`).

    Notes
    -----
    ``logs`` arguments are dicts of Python floats keyed by metric name, for example
    ``{"loss": 0.25, "accuracy": 0.875}``; epoch-end logs also hold the validation
    results under ``val_``-prefixed names. Batch-end logs hold the running averages
    since the start of the epoch. Hooks that receive no values get an empty dict.

    ``on_train_batch_begin`` and ``on_train_batch_end`` call the older
    ``on_batch_begin`` and ``on_batch_end`` by default, so a callback that overrides
    only those still sees every training batch.

    Examples
    --------
    >>> from densekit.callbacks import Callback, CallbackList
    >>> class CountBatches(Callback):
    ...     def on_train_begin(self, logs=None):
    ...         self.count = 0
    ...     def on_train_batch_end(self, batch, logs=None):
    ...         self.count += 1
    >>> counter = CountBatches()
    >>> callbacks = CallbackList([counter], epochs=1, steps=3, verbose=0)
    >>> callbacks.on_train_begin()
    >>> for step in range(3):
    ...     callbacks.on_train_batch_begin(step)
    ...     callbacks.on_train_batch_end(step, {"loss": 1.0})
    >>> counter.count
    3
    """

    def __init__(self):
        self.params = None
        self._model = None

    def set_params(self, params):
        """Store the run's parameters dict in :attr:`params`."""
        self.params = params

    def set_model(self, model):
        """Attach the callback to `model`."""
        self._model = model

    @property
    def model(self):
        """The model set by :meth:`set_model` (None before)."""
        return self._model

    def on_batch_begin(self, batch, logs=None):
        """Older name of :meth:`on_train_batch_begin`, called from it by default."""

    def on_batch_end(self, batch, logs=None):
        """Older name of :meth:`on_train_batch_end`, called from it by default."""

    def on_epoch_begin(self, epoch, logs=None):
        """At the start of training epoch `epoch` (0-based); `logs` is empty."""

    def on_epoch_end(self, epoch, logs=None):
        """At the end of training epoch `epoch` (0-based).

        `logs` holds the epoch's loss and metrics and, when validation ran this
        epoch, the validation results under ``val_`` names, e.g.
        ``{"loss": 0.2, "accuracy": 0.7, "val_loss": 0.3, "val_accuracy": 0.6}``.
        """

    def on_train_batch_begin(self, batch, logs=None):
        """Before training batch `batch` (0-based within the epoch); `logs` is empty.

        Calls :meth:`on_batch_begin` unless overridden.
        """
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        """After training batch `batch`; `logs` holds the epoch's running results.

        Calls :meth:`on_batch_end` unless overridden.
        """
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        """Before batch `batch` of `evaluate`, or of the validation inside `fit`."""

    def on_test_batch_end(self, batch, logs=None):
        """After batch `batch` of `evaluate` or of validation; `logs` holds running results."""

    def on_predict_batch_begin(self, batch, logs=None):
        """Before batch `batch` of `predict`."""

    def on_predict_batch_end(self, batch, logs=None):
        """After batch `batch` of `predict`; `logs` holds ``{"outputs": ...}``."""

    def on_train_begin(self, logs=None):
        """Once, at the start of `fit`; `logs` is empty."""

    def on_train_end(self, logs=None):
        """Once, at the end of a `fit` that did not raise; `logs` are the last epoch's."""

    def on_test_begin(self, logs=None):
        """At the start of `evaluate`, or of each validation run inside `fit`."""

    def on_test_end(self, logs=None):
        """At the end of `evaluate` or of a validation run; `logs` are its final results."""

    def on_predict_begin(self, logs=None):
        """At the start of `predict`."""

    def on_predict_end(self, logs=None):
        """At the end of `predict`."""
