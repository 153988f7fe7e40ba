"""`ModelCheckpoint`: save the model or its weights during `fit`."""

import numbers
import os
import warnings

import numpy as np

from densekit._validation import check_path
from densekit.callbacks._monitor import MonitorCallback
from densekit.callbacks._utils import check_optional_real, check_verbose, print_msg

__all__ = ["ModelCheckpoint"]


class ModelCheckpoint(MonitorCallback):
    """Save the whole model (``model.save``) or its weights (``model.save_weights``).

    Parameters
    ----------
    filepath : str or os.PathLike
        Where to save. It may hold ``str.format`` fields filled from ``epoch``
        (1-based), ``batch`` (1-based, when saving every N batches) and the logs, e.g.
        ``"w.{epoch:02d}.weights.h5"`` or ``"m-{epoch:02d}-{val_loss:.2f}.keras"``; a
        field not in the logs raises KeyError when saving. Missing directories are
        created. With ``save_weights_only`` the name must end in ``.weights.h5``;
        otherwise in ``.keras`` (``.h5``, Keras' legacy whole-model format, passes this
        check too, as in Keras; it is up to ``model.save`` whether it supports it).
    monitor : str, default="val_loss"
        The log name compared when ``save_best_only``.
    verbose : int, default=0
        1 prints a line for every save and every skipped save.
    save_best_only : bool, default=False
        Save only when `monitor` improves on the best value so far (kept across
        ``fit`` calls). A missing or non-scalar monitored value warns and saves anyway.
    save_weights_only : bool, default=False
        Save ``model.save_weights(path)`` instead of ``model.save(path)``.
    mode : {"auto", "min", "max"}, default="auto"
        Direction of improvement for ``save_best_only`` (as in :class:`EarlyStopping`).
    save_freq : "epoch" or int, default="epoch"
        Save after every epoch, or after every `save_freq` training batches (counted
        across epochs; then the batch logs are used, and they hold no ``val_*``).
    initial_value_threshold : float, optional
        The best value to beat initially, with ``save_best_only``.

    Raises
    ------
    ValueError
        For a bad `save_freq` or a `filepath` without the required extension.
    KeyError
        When saving, if `filepath` names a field that the logs do not hold.
    IOError
        When saving, if the formatted path is an existing directory.

    Notes
    -----
    One difference from Keras 3.15: there, ``save_freq=N`` together with
    ``save_best_only`` fails at the second batch-level save of the first epoch
    (``TypeError: 'NoneType' object is not callable``), because the comparison is only
    set up at the first epoch end. Here it is set up on first use.

    Examples
    --------
    >>> from densekit.callbacks import ModelCheckpoint
    >>> checkpoint = ModelCheckpoint("ckpt/w.{epoch:02d}-{loss:.2f}.weights.h5",
    ...                              save_weights_only=True)
    >>> checkpoint._get_file_path(epoch=2, batch=None, logs={"loss": 0.1234})
    'ckpt/w.03-0.12.weights.h5'
    >>> ModelCheckpoint("model.h5py")
    Traceback (most recent call last):
    ...
    ValueError: The filepath provided must end in `.keras` (Keras model format). Received: filepath=model.h5py
    """

    def __init__(
        self,
        filepath,
        monitor="val_loss",
        verbose=0,
        save_best_only=False,
        save_weights_only=False,
        mode="auto",
        save_freq="epoch",
        initial_value_threshold=None,
    ):
        initial_value_threshold = check_optional_real(
            initial_value_threshold, "initial_value_threshold"
        )
        super().__init__(monitor, mode, initial_value_threshold)
        self.verbose = check_verbose(verbose)
        self.filepath = check_path(filepath, "filepath")
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.save_freq = save_freq
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = None
        self._current_epoch = 0

        if save_freq != "epoch" and not isinstance(save_freq, numbers.Integral):
            raise ValueError(
                f"Unrecognized save_freq: {save_freq}. "
                "Expected save_freq are 'epoch' or integer values"
            )
        if save_weights_only:
            if not self.filepath.endswith(".weights.h5"):
                raise ValueError(
                    "When using `save_weights_only=True` in `ModelCheckpoint`, the "
                    "filepath provided must end in `.weights.h5` (Keras weights format). "
                    f"Received: filepath={self.filepath}"
                )
        elif not self.filepath.endswith((".keras", ".h5")):
            raise ValueError(
                "The filepath provided must end in `.keras` (Keras model format). "
                f"Received: filepath={self.filepath}"
            )

    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch):
            self._save_model(epoch=self._current_epoch, batch=batch, logs=logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        if self.save_freq == "epoch":
            self._save_model(epoch=epoch, batch=None, logs=logs)

    def _should_save_on_batch(self, batch):
        if self.save_freq == "epoch":
            return False
        if self._last_batch_seen is None or batch <= self._last_batch_seen:
            added = batch + 1  # a new epoch started; batch indices are 0-based
        else:
            added = batch - self._last_batch_seen
        self._batches_seen_since_last_saving += added
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _should_save_model(self, epoch, batch, logs, filepath):
        logs = logs or {}
        if not self.save_best_only:
            if self.verbose > 0:
                print_msg(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(
                f"Can save best model only with {self.monitor} available.", stacklevel=2
            )
            return True
        if isinstance(current, np.ndarray) and current.ndim > 0:
            warnings.warn(
                "Can save best model only when `monitor` is a scalar value. "
                f"Received: {current}. Falling back to `save_best_only=False`.",
                stacklevel=2,
            )
            return True
        best_str = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                print_msg(
                    f"\nEpoch {epoch + 1}: {self.monitor} improved from {best_str} to "
                    f"{current:.5f}, saving model to {filepath}"
                )
            self.best = current
            return True
        if self.verbose > 0:
            print_msg(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best_str}")
        return False

    def _save_model(self, epoch, batch, logs):
        filepath = self._get_file_path(epoch, batch, logs)
        try:
            if not self._should_save_model(epoch, batch, logs, filepath):
                return
            dirname = os.path.dirname(filepath)
            if dirname:
                os.makedirs(dirname, exist_ok=True)
            if self.save_weights_only:
                self.model.save_weights(filepath)
            else:
                self.model.save(filepath)
            if self.verbose > 0:
                print_msg(f"\nEpoch {epoch + 1}: finished saving model to {filepath}")
        except IsADirectoryError:
            raise IOError(
                "Please specify a non-directory filepath for ModelCheckpoint. "
                f"Filepath used is an existing directory: {filepath}"
            ) from None
        except OSError as e:
            if e.args and "is a directory" in str(e.args[0]).lower():
                raise IOError(
                    "Please specify a non-directory filepath for ModelCheckpoint. "
                    f"Filepath used is an existing directory: {filepath}"
                ) from None
            raise

    def _get_file_path(self, epoch, batch, logs):
        logs = logs or {}
        try:
            if batch is None or "batch" in logs:
                return self.filepath.format(epoch=epoch + 1, **logs)
            return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **logs)
        except KeyError as e:
            raise KeyError(
                f'Failed to format this callback filepath: "{self.filepath}". Reason: {e}'
            ) from None
