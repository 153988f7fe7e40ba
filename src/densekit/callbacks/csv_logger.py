"""`CSVLogger`: one CSV row per epoch."""

import collections.abc
import csv

import numpy as np

from densekit._validation import check_path
from densekit.callbacks.callback import Callback

__all__ = ["CSVLogger"]


def _cell(value):
    # Sequences (but not strings or 0-d arrays) are written as one quoted "[a, b]" text.
    if isinstance(value, str):
        return value
    if isinstance(value, collections.abc.Iterable) and not (
        isinstance(value, np.ndarray) and value.ndim == 0
    ):
        return f'"[{", ".join(map(str, value))}]"'
    return value


class CSVLogger(Callback):
    """Append every epoch's logs to a CSV file, written with the `csv` module.

    The first row is the header ``epoch`` followed by the first epoch's log names,
    sorted; when none of them starts with ``val_``, a ``val_`` copy of every name is
    added (so a run without validation has ``NA`` columns ready for one with it). Each
    row holds the 0-based epoch index and the values (``NA`` for a missing name),
    in the Excel dialect (``\\r\\n`` line ends, minimal quoting) with `separator`
    between fields. The file is flushed after every row and closed at the end of
    ``fit``.

    Parameters
    ----------
    filename : str or os.PathLike
        The CSV file.
    separator : str, default=","
        The one-character field separator.
    append : bool, default=False
        Append to an existing file instead of overwriting it; the header is then
        written only if the file is empty.

    Examples
    --------
    >>> import os, tempfile
    >>> from densekit.callbacks import CSVLogger
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = os.path.join(tmp.name, "log.csv")
    >>> logger = CSVLogger(path)
    >>> logger.on_train_begin()
    >>> logger.on_epoch_end(0, {"loss": 0.5, "accuracy": 0.75})
    >>> logger.on_epoch_end(1, {"loss": 0.25, "accuracy": 0.875})
    >>> logger.on_train_end()
    >>> with open(path, newline="") as f:
    ...     f.read()
    'epoch,accuracy,loss,val_accuracy,val_loss\\r\\n0,0.75,0.5,NA,NA\\r\\n1,0.875,0.25,NA,NA\\r\\n'
    >>> tmp.cleanup()
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        if not isinstance(separator, str):
            raise TypeError(
                "Argument `separator` must be a 1-character string. "
                f"Received: separator={separator!r}"
            )
        if len(separator) != 1:
            raise ValueError(
                "Argument `separator` must be a 1-character string. "
                f"Received: separator={separator!r}"
            )
        self.sep = separator
        self.filename = check_path(filename, "filename")
        self.append = append
        self.writer = None
        self.keys = None
        self.append_header = True
        self.csv_file = None

    def on_train_begin(self, logs=None):
        if self.append:
            try:
                with open(self.filename) as f:
                    self.append_header = not f.readline()
            except FileNotFoundError:
                pass
            mode = "a"
        else:
            mode = "w"
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = open(self.filename, mode)
        self.writer = None
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(key.startswith("val_") for key in self.keys):
                self.keys += [f"val_{key}" for key in self.keys]
        if self.writer is None:
            dialect = type("_Dialect", (csv.excel,), {"delimiter": self.sep})
            self.writer = csv.DictWriter(
                self.csv_file, fieldnames=["epoch"] + self.keys, dialect=dialect
            )
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update((key, _cell(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None
