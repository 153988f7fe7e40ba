"""Helpers shared by the callbacks: console output, log normalisation, argument checks."""

import numbers
import sys

import numpy as np

__all__ = [
    "check_count",
    "check_verbose",
    "check_optional_real",
    "check_real",
    "check_str",
    "print_msg",
    "pythonify_logs",
]


def print_msg(message, line_break=True):
    """Write `message` to the current ``sys.stdout`` and flush it.

    ``sys.stdout`` is looked up on every call, so redirection (pytest's capsys,
    ``contextlib.redirect_stdout``) is honoured. A stream whose encoding cannot
    represent the bar glyph gets ``=`` instead, as Keras falls back to.
    """
    message = str(message)
    if line_break:
        message += "\n"
    stream = sys.stdout
    try:
        stream.write(message)
    except UnicodeEncodeError:
        encoding = getattr(stream, "encoding", None) or "utf-8"
        message = message.replace("\u2501", "=")
        stream.write(message.encode(encoding, errors="ignore").decode(encoding))
    stream.flush()


def _to_python(value):
    # ndarrays with one element become floats as Keras' float(value) makes them, without
    # numpy's deprecation of float() on arrays of ndim > 0; larger arrays are kept.
    if isinstance(value, np.ndarray):
        if value.size == 1:
            try:
                return float(value.reshape(()))
            except (TypeError, ValueError):
                return value
        return value
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return value


def pythonify_logs(logs):
    """A new flat dict of `logs` with sorted keys and float values where possible.

    Nested dicts are merged into the top level (their keys unprefixed), values that
    ``float()`` accepts become Python floats and anything else is kept as is. This is
    what every :class:`CallbackList` hook hands to the callbacks, as in Keras.
    """
    result = {}
    if not logs:
        return result
    for key, value in sorted(logs.items()):
        if isinstance(value, dict):
            result.update(pythonify_logs(value))
        else:
            result[key] = _to_python(value)
    return result




def check_str(value, name):
    if not isinstance(value, str):
        raise TypeError(f"Argument `{name}` must be a string. Received: {name}={value!r}")
    return value


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_real(value, name):
    """`value` unchanged if it is a real number that is not NaN, else ValueError."""
    if not _is_real(value) or value != value:
        raise ValueError(f"Argument `{name}` must be a number. Received: {name}={value!r}")
    return value


def check_optional_real(value, name):
    return None if value is None else check_real(value, name)


def check_count(value, name):
    """`value` as an int if it is a non-negative integer, else ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(
            f"Argument `{name}` must be a non-negative integer. Received: {name}={value!r}"
        )
    return int(value)


def check_verbose(value, name="verbose"):
    """`value` unchanged if it is a bool or a non-negative integer, else ValueError."""
    if isinstance(value, bool):
        return value
    return check_count(value, name)
