"""`EarlyStopping`: stop `fit` when a monitored quantity stops improving."""

import warnings

from densekit.callbacks._monitor import MonitorCallback
from densekit.callbacks._utils import check_count, check_optional_real, check_verbose, print_msg

__all__ = ["EarlyStopping"]


class EarlyStopping(MonitorCallback):
    """Stop training once `monitor` has not improved for `patience` epochs.

    At each epoch end the monitored value is compared with the best seen so far in
    this ``fit`` (see Notes); when ``patience`` epochs in a row bring no improvement,
    ``model.stop_training`` is set and ``fit`` ends after that epoch.

    Parameters
    ----------
    monitor : str, default="val_loss"
        The epoch-log name to watch. A missing value warns and skips the epoch.
    min_delta : float, default=0
        The amount (its absolute value) by which a value must beat the best to count
        as an improvement.
    patience : int, default=0
        Epochs without improvement after which training stops.
    verbose : int, default=0
        1 prints a line when training is stopped and when weights are restored.
    mode : {"auto", "min", "max"}, default="auto"
        Whether lower ('min') or higher ('max') is better. 'auto' minimises ``loss``
        and ``val_loss`` and asks the model's metrics for any other name (ValueError
        at the first epoch end when they cannot tell); an unknown mode warns and means
        'auto'.
    baseline : float, optional
        A value to beat: an epoch that improves on the best but not on `baseline` does
        not reset the patience count, so training stops after `patience` epochs unless
        the baseline is beaten.
    restore_best_weights : bool, default=False
        At the end of training, put back the weights of the best epoch (also when
        training ran to the end without stopping). When no epoch beat the baseline,
        the best epoch among those seen is restored.
    start_from_epoch : int, default=0
        Epochs (counted from epoch index 0) ignored entirely before watching starts.

    Attributes
    ----------
    stopped_epoch : int
        The epoch index at which training was stopped (0 if it was not).
    best : float or None
        The best value seen.
    best_epoch : int
        The epoch index of `best`.
    best_weights : list of ndarray or None
        The weights saved at `best_epoch` (with `restore_best_weights`).
    wait : int
        Epochs since the last improvement.

    Notes
    -----
    Per epoch end, in order: epochs before `start_from_epoch` and epochs whose logs
    lack `monitor` are skipped. With `restore_best_weights`, the first watched epoch's
    weights are kept as a fallback. The wait count goes up by one; if the value
    improves on the best (any value improves on none), it becomes the best (its
    weights are kept) and the wait count restarts at 0 if there is no `baseline` or the
    value also improves on it. Otherwise, if ``wait >= patience`` and the epoch index is
    above 0, training stops. So with ``patience=2`` and losses 1.0, 0.9, 0.95, 0.97,
    training stops after the fourth epoch (index 3) and restores the second.

    All state is reset at the start of each ``fit``, so one instance can be reused.

    Examples
    --------
    >>> from densekit.callbacks import CallbackList, EarlyStopping
    >>> class Model:
    ...     stop_training = False
    >>> model = Model()
    >>> stopper = EarlyStopping(monitor="loss", patience=2)
    >>> callbacks = CallbackList([stopper], model=model, verbose=0, epochs=10, steps=1)
    >>> callbacks.on_train_begin()
    >>> for epoch, loss in enumerate([1.0, 0.9, 0.95, 0.97, 0.5]):
    ...     callbacks.on_epoch_end(epoch, {"loss": loss})
    ...     if model.stop_training:
    ...         break
    >>> stopper.stopped_epoch, stopper.best
    (3, 0.9)
    """

    def __init__(
        self,
        monitor="val_loss",
        min_delta=0,
        patience=0,
        verbose=0,
        mode="auto",
        baseline=None,
        restore_best_weights=False,
        start_from_epoch=0,
    ):
        super().__init__(monitor, mode, min_delta=min_delta)
        self.patience = check_count(patience, "patience")
        self.verbose = check_verbose(verbose)
        self.baseline = check_optional_real(baseline, "baseline")
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = check_count(start_from_epoch, "start_from_epoch")
        self.wait = 0
        self.stopped_epoch = 0
        self.best_weights = None
        self.best_epoch = 0

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            # Decided here, once the model's metrics exist.
            self._set_monitor_op()
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch

        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return

        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print_msg(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print_msg(
                    "Restoring model weights from the end of the best epoch: "
                    f"{self.best_epoch + 1}."
                )
            self.model.set_weights(self.best_weights)

    def get_monitor_value(self, logs):
        """The monitored value in `logs`, or None (with a warning) when absent."""
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(
                f"Early stopping conditioned on metric `{self.monitor}` which is not "
                f"available. Available metrics are: {','.join(list(logs.keys()))}",
                stacklevel=2,
            )
        return value
