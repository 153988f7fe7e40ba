"""The shared logic of callbacks that watch one logged quantity."""

import operator
import warnings

from densekit.callbacks._utils import check_real, check_str
from densekit.callbacks.callback import Callback

__all__ = ["MonitorCallback"]


def _compile_metrics(model):
    """The metric objects whose ``_direction`` can decide an 'auto' mode."""
    found = []
    for metric in getattr(model, "metrics", None) or ():
        inner = getattr(metric, "metrics", None)
        if isinstance(inner, (list, tuple)):
            found.extend(inner)  # a container of compiled metrics
        else:
            found.append(metric)
    return found


class MonitorCallback(Callback):
    """Base of EarlyStopping, ModelCheckpoint and ReduceLROnPlateau.

    It decides whether a new value of ``monitor`` improves on a reference: in
    'min' mode when ``value + min_delta < reference``, in 'max' mode when
    ``value - min_delta > reference``; anything improves on a None reference.

    'auto' mode decides on first use: ``loss`` and ``val_loss`` are minimised;
    any other name (without its ``val_`` prefix) is looked up among
    ``model.metrics`` (containers with a ``metrics`` list are searched inside), and a
    metric of that ``name`` with ``_direction == "up"`` is maximised, with any
    other ``_direction`` minimised. Without such a metric, ValueError. An unknown
    `mode` warns and falls back to 'auto'.
    """

    def __init__(self, monitor="val_loss", mode="auto", baseline=None, min_delta=0):
        super().__init__()
        check_str(monitor, "monitor")
        check_real(min_delta, "min_delta")
        if mode not in ("auto", "min", "max"):
            warnings.warn(
                f"{type(self).__name__} mode '{mode}' is unknown, fallback to auto mode.",
                stacklevel=3,
            )
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.best = baseline
        self.min_delta = abs(min_delta)
        self.monitor_op = None

    def _set_monitor_op(self):
        if self.mode == "min":
            op = operator.lt
        elif self.mode == "max":
            op = operator.gt
        else:
            op = None
            name = self.monitor.removeprefix("val_")
            if name == "loss":
                op = operator.lt
            for metric in _compile_metrics(self.model):
                if getattr(metric, "name", None) == name and hasattr(metric, "_direction"):
                    op = operator.gt if metric._direction == "up" else operator.lt
            if op is None:
                raise ValueError(
                    f"{type(self).__name__} callback received monitor={self.monitor}, "
                    "but densekit isn't able to automatically determine whether that "
                    "metric should be maximized or minimized. Pass `mode='max'` in order "
                    "to monitor based on the highest metric value, or pass `mode='min'` "
                    "in order to use the lowest value."
                )
        self.monitor_op = op
        if op is operator.lt:
            # Stored signed, so that one comparison serves both directions.
            self.min_delta = -self.min_delta

    def _is_improvement(self, monitor_value, reference_value):
        if reference_value is None:
            return True
        if self.monitor_op is None:
            self._set_monitor_op()
        return bool(self.monitor_op(monitor_value - self.min_delta, reference_value))
