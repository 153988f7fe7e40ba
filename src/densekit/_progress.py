"""Progress display on stderr (private): one implementation for densekit.io and
``Sequential.predict``.

tqdm (a dependency of densekit) draws the bars; it is imported on first use, so
that importing densekit does not pay for it. A bar is drawn only when asked for:
``initialize_file(progress=None)`` and ``predict(verbose='auto')`` ask for one
only when stderr is a terminal, because a bar's carriage-return updates written
to a log file or a pipe are one long garbled line.
"""

import sys
import time

__all__ = ["byte_progress", "row_progress", "stderr_is_terminal"]


def stderr_is_terminal():
    """True when ``sys.stderr`` is an open terminal (False for files, pipes, capture)."""
    isatty = getattr(sys.stderr, "isatty", None)
    if isatty is None:
        return False
    try:
        return bool(isatty())
    except (ValueError, OSError):  # a closed or detached stream
        return False


class _Silent:
    """No output at all."""

    def update(self, n):
        pass

    def close(self):
        pass


class _Bar:
    """A tqdm bar on stderr, closed (with its final newline) once."""

    def __init__(self, **kwargs):
        from tqdm import tqdm

        self._bar = tqdm(file=sys.stderr, leave=True, **kwargs)

    def update(self, n):
        self._bar.update(n)

    def close(self):
        bar, self._bar = self._bar, None
        if bar is not None:
            bar.close()


class _Summary:
    """One line at the end (Keras' verbose=2): ``done/total rows - 1.2s``."""

    def __init__(self, total, unit):
        self.total, self.unit, self.done = total, unit, 0
        self._start = time.perf_counter()

    def update(self, n):
        self.done += n

    def close(self):
        seconds = time.perf_counter() - self._start
        sys.stderr.write(f"{self.done}/{self.total} {self.unit} - {seconds:.1f}s\n")
        sys.stderr.flush()


def byte_progress(show, total, desc):
    """Progress of writing `total` bytes: a bar when `show` (None: when stderr is a
    terminal), else nothing. ``update(n)`` takes bytes."""
    if show is None:
        show = stderr_is_terminal()
    if not show:
        return _Silent()
    return _Bar(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024)


def row_progress(verbose, total, desc="predict"):
    """Progress over `total` rows for a resolved Keras `verbose` (0, 1 or 2):
    0 nothing, 1 a bar, 2 one line at the end. ``update(n)`` takes rows."""
    if verbose == 1:
        return _Bar(
            total=total, desc=desc, unit="rows",
            bar_format="{desc}: {n}/{total} rows [{bar:30}] {elapsed}<{remaining}, {rate_fmt}",
        )
    if verbose == 2:
        return _Summary(total, "rows")
    return _Silent()
