"""The console progress bar behind `ProgbarLogger`, in Keras 3's exact format.

verbose=1 redraws one line per update (at most every `interval` seconds, and
always for the final update)::

    <bold>  current/target</bold> <green>━━━━━━</green><grey>━━━━━━━━━━━━━━</grey> <bold>ETA</bold> 12ms/step - loss: 0.1234

The count is right-aligned to the target's digits, the bar is `width` cells, and
while running the bold field is the estimated time left (``5s``, ``1:05``,
``1:01:05``); the final update shows the elapsed seconds instead and ends the line.
On a dynamic display the update starts with one backspace per visible character of
the previous line plus a carriage return (and pads with spaces if it is shorter);
otherwise each update starts with a newline. Keras treats the display as dynamic
when stdout is a terminal, inside IPython kernels, under PyCharm, and whenever the
``posix`` module is loaded, i.e. on every Linux and macOS interpreter.

verbose=2 prints only the final update, as ``current/target - 3s - 12ms/step - loss: 0.1234``.

Time per step excludes the first step once there are more (it includes compilation
and warm-up in Keras) and is shown in whole s, ms or us. Metric values print with 4
decimals, or in ``.4e`` notation when their magnitude is at most 1e-3 (verbose=2
tests the signed value, so negative values always use ``.4e`` there, as in Keras).
"""

import math
import os
import sys
import time

import numpy as np

from densekit.callbacks._utils import print_msg

__all__ = ["Progbar"]

_BAR = "\u2501"  # the heavy horizontal line Keras draws the bar with
_BOLD, _GREEN, _GREY, _RESET = "\x1b[1m", "\x1b[32m", "\x1b[37m", "\x1b[0m"


def _dynamic_display():
    return (
        (hasattr(sys.stdout, "isatty") and sys.stdout.isatty())
        or "ipykernel" in sys.modules
        or "posix" in sys.modules
        or "PYCHARM_HOSTED" in os.environ
    )


def _format_time(seconds, unit_name):
    if seconds >= 1 or seconds == 0:
        return f" {seconds:.0f}s/{unit_name}"
    if seconds >= 1e-3:
        return f" {seconds * 1e3:.0f}ms/{unit_name}"
    return f" {seconds * 1e6:.0f}us/{unit_name}"


def _format_eta(eta):
    if eta > 3600:
        return "%d:%02d:%02d" % (eta // 3600, (eta % 3600) // 60, eta % 60)
    if eta > 60:
        return "%d:%02d" % (eta // 60, eta % 60)
    return "%ds" % eta


class Progbar:
    """A progress bar printing to stdout.

    Parameters
    ----------
    target : int or None
        Total number of steps, None when unknown (the count then shows ``/Unknown``).
    width : int, default=20
        Bar width in characters.
    verbose : int, default=1
        0 silent, 1 a live bar, 2 one line at the final update.
    interval : float, default=0.05
        Minimum seconds between two redraws at verbose=1 (the final update always draws).
    stateful_metrics, stateless_metrics : iterable of str, optional
        At most one of them. Stateless metrics are averaged over the steps by the bar
        (weighted by the steps each update covers); stateful ones are shown as given.
        With neither, every metric is averaged; with `stateful_metrics`, the names
        listed are shown as given; with `stateless_metrics`, only the names listed are
        averaged. The final update shows every value as given.
    unit_name : str, default="step"
        The unit of the time-per-unit field.
    """

    def __init__(
        self,
        target,
        width=20,
        verbose=1,
        interval=0.05,
        stateful_metrics=None,
        stateless_metrics=None,
        unit_name="step",
    ):
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError(
                "Only one of `stateful_metrics` or `stateless_metrics` can be provided. "
                "`stateful_metrics` names the metrics shown as given (all others are "
                "averaged), `stateless_metrics` names the metrics that are averaged (all "
                "others are shown as given)."
            )
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        self.stateful_metrics = None if stateful_metrics is None else set(stateful_metrics)
        self.stateless_metrics = None if stateless_metrics is None else set(stateless_metrics)
        if self.stateful_metrics is None and self.stateless_metrics is None:
            self.stateful_metrics = set()
        self._dynamic_display = _dynamic_display()
        self._seen_so_far = 0
        self._values = {}  # name -> [weighted sum, weight]
        self._values_order = []
        self._start = time.time()
        self._last_update = 0
        self._time_after_first_step = None
        self._prev_total_width = 0

    def _averaged(self, name):
        if self.stateful_metrics is not None:
            return name not in self.stateful_metrics
        return name in self.stateless_metrics

    def _record(self, current, values, finalize):
        for name, value in values:
            if name not in self._values_order:
                self._values_order.append(name)
            if self._averaged(name) and not finalize:
                # An update can cover several steps; at least one, so that a repeated
                # step (an epoch-end update after the last batch) still counts.
                weight = max(current - self._seen_so_far, 1)
                if name in self._values:
                    self._values[name][0] += value * weight
                    self._values[name][1] += weight
                else:
                    self._values[name] = [value * weight, weight]
            else:
                self._values[name] = [value, 1]
        self._seen_so_far = current

    def _mean(self, name):
        total, count = self._values[name]
        if not isinstance(total, float):
            total = np.mean(total)
        return total / max(1, count)

    def _step_duration(self, current, now):
        # The first step is left out of the estimate once later steps exist.
        if not current:
            return 0
        if self._time_after_first_step is not None and current > 1:
            per_step = (now - self._time_after_first_step) / (current - 1)
        else:
            per_step = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return per_step

    def update(self, current, values=None, finalize=None):
        """Show step `current` with the `(name, value)` pairs in `values`.

        Parameters
        ----------
        current : int
            Index of the current step (1-based count of steps done).
        values : list of (str, float), optional
            The metrics for this update.
        finalize : bool, optional
            Whether this is the last update; by default ``current >= target``
            (False when the target is unknown).
        """
        if finalize is None:
            finalize = False if self.target is None else current >= self.target
        self._record(current, values or [], finalize)
        now = time.time()
        per_step = self._step_duration(current, now)
        known = self.target is not None and self.target > 0

        if self.verbose == 1:
            if now - self._last_update < self.interval and not finalize:
                return
            if self._dynamic_display:
                message = "\b" * self._prev_total_width + "\r"
            else:
                message = "\n"
            if known:
                digits = int(math.log10(self.target)) + 1
                filled = int(self.width * (float(current) / self.target))
                bar = f"{_BOLD}{'%*d/%d' % (digits, current, self.target)}{_RESET} "
                hidden = 8
                if filled > 0:
                    bar += f"{_GREEN}{_BAR * filled}{_RESET}"
                    hidden += 9
                bar += f"{_GREY}{_BAR * (self.width - filled)}{_RESET}"
                hidden += 9
            else:
                bar = "%7d/Unknown" % current
                hidden = 0
            if known and not finalize:
                info = f" {_BOLD}{_format_eta(per_step * (self.target - current))}{_RESET}"
            else:
                info = f" {_BOLD}{now - self._start:.0f}s{_RESET}"
            hidden += 8
            info += _format_time(per_step, self.unit_name)
            for name in self._values_order:
                avg = self._mean(name)
                info += f" - {name}: {avg:.4f}" if abs(avg) > 1e-3 else f" - {name}: {avg:.4e}"
            total_width = len(bar) + len(info) - hidden
            message += bar + info
            if self._prev_total_width > total_width:
                message += " " * (self._prev_total_width - total_width)
            if finalize:
                message += "\n"
            print_msg(message, line_break=False)
            self._prev_total_width = total_width

        elif self.verbose == 2 and finalize and known:
            digits = int(math.log10(self.target)) + 1
            line = "%*d/%d" % (digits, current, self.target) + f" - {now - self._start:.0f}s"
            line += " -" + _format_time(per_step, self.unit_name)
            for name in self._values_order:
                avg = self._mean(name)
                line += f" - {name}: {avg:.4f}" if avg > 1e-3 else f" - {name}: {avg:.4e}"
            print_msg(line + "\n", line_break=False)

        self._last_update = now

    def add(self, n, values=None):
        """Advance by `n` steps (see :meth:`update`)."""
        self.update(self._seen_so_far + n, values)
