"""`ProgbarLogger`: the per-epoch progress output of `fit`, `evaluate` and `predict`."""

from densekit.callbacks._progbar import Progbar
from densekit.callbacks._utils import print_msg
from densekit.callbacks.callback import Callback

__all__ = ["ProgbarLogger"]


class ProgbarLogger(Callback):
    """Print progress and metrics to stdout, in Keras 3's console format.

    :class:`CallbackList` adds one when asked for a progress bar (``fit`` and
    ``evaluate`` do so unless ``verbose=0``). It reads ``verbose``, ``epochs`` and
    ``steps`` from the run's params; ``verbose="auto"`` counts as 1.

    - verbose=1: an ``Epoch 3/5`` line before each epoch (only when ``epochs > 1``),
      then a live bar updated after every batch (at most every 0.05 s) with the
      running ``loss`` and metrics, finished at the epoch's end with the epoch's logs
      (the training results and ``val_*``).
    - verbose=2: the ``Epoch`` line and one summary line per epoch.

    Output goes to ``sys.stdout`` and is flushed after every write. Inside ``fit``
    the validation runs are silent; a standalone ``evaluate`` or ``predict`` shows
    its own bar. With ``steps=None`` (unknown length) the count reads
    ``     12/Unknown`` until the end of the first epoch fixes the target. See
    ``densekit.callbacks._progbar`` for the line format.

    Examples
    --------
    >>> from densekit.callbacks import CallbackList
    >>> callbacks = CallbackList(add_progbar=True, verbose=2, epochs=2, steps=4)
    >>> callbacks.on_train_begin()
    >>> callbacks.on_epoch_begin(0)
    Epoch 1/2
    """

    def __init__(self):
        super().__init__()
        self.seen = 0
        self.progbar = None
        self.target = None
        self.verbose = 1
        self.epochs = 1
        self._called_in_fit = False

    def set_params(self, params):
        """Read ``verbose``, ``epochs`` and ``steps`` (KeyError if one is missing)."""
        verbose = params["verbose"]
        self.verbose = 1 if verbose == "auto" else verbose
        self.epochs = params["epochs"]
        self.target = params["steps"]

    def on_train_begin(self, logs=None):
        # From here on this logger belongs to a fit, whose validation runs stay silent.
        self._called_in_fit = True

    def on_test_begin(self, logs=None):
        if not self._called_in_fit:
            self._reset_progbar()
            self._maybe_init_progbar()

    def on_predict_begin(self, logs=None):
        self._reset_progbar()
        self._maybe_init_progbar()

    def on_epoch_begin(self, epoch, logs=None):
        self._reset_progbar()
        self._maybe_init_progbar()
        if self.verbose and self.epochs > 1:
            print_msg(f"Epoch {epoch + 1}/{self.epochs}")

    def on_train_batch_end(self, batch, logs=None):
        self._update_progbar(batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        if not self._called_in_fit:
            self._update_progbar(batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._update_progbar(batch, None)  # the predictions are not shown

    def on_epoch_end(self, epoch, logs=None):
        self._finalize_progbar(logs)

    def on_test_end(self, logs=None):
        if not self._called_in_fit:
            self._finalize_progbar(logs)

    def on_predict_end(self, logs=None):
        self._finalize_progbar(logs)

    def _reset_progbar(self):
        self.seen = 0
        self.progbar = None

    def _maybe_init_progbar(self):
        if self.progbar is None:
            # No metric is averaged by the bar: the logs already hold running results.
            self.progbar = Progbar(
                target=self.target, verbose=self.verbose, unit_name="step",
                stateless_metrics=set(),
            )

    def _update_progbar(self, batch, logs=None):
        self._maybe_init_progbar()
        self.seen = batch + 1
        if self.verbose == 1:
            self.progbar.update(self.seen, list((logs or {}).items()), finalize=False)

    def _finalize_progbar(self, logs):
        if self.target is None:
            # An unknown epoch length is learnt from the first epoch.
            self.target = self.seen
            self.progbar.target = self.target
        self.progbar.update(self.target, list((logs or {}).items()), finalize=True)
