"""One progress implementation (densekit._progress) for densekit.io and predict; 'auto'
draws no bar when stderr is not a terminal (issue 9 item 5, issue 10 item 23)."""

import io
import sys

import numpy as np
import pytest

import densekit.io as dio
import densekit.models.sequential as sequential_module
from densekit import _progress, initializers
from densekit.layers import Dense, Input
from densekit.models import Sequential


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def tutorial():
    return Sequential([Input((16,)), Dense(32, activation="relu"), Dense(8)])


def test_io_and_predict_share_the_progress_module():
    assert sequential_module.row_progress is _progress.row_progress
    assert dio.byte_progress is _progress.byte_progress
    assert not hasattr(sequential_module, "_Progress")
    assert not hasattr(dio, "_PlainProgress") and not hasattr(dio, "_make_progress")


def test_helpers_have_one_home():
    from densekit import dask as ddask
    from densekit import torch as dtorch
    from densekit.initializers import _layout

    assert ddask.resolve_dtype is _layout.resolve_dtype
    assert ddask.resolve_initializer is _layout.resolve_initializer
    assert dtorch.resolve_initializer is _layout.resolve_initializer
    assert dio.resolve_dtype is _layout.resolve_dtype
    for gone in ("_resolve_dtype", "_resolve_initializer", "_dtype_name", "_bfloat16"):
        assert not hasattr(dio, gone)


def test_auto_on_a_non_terminal_is_one_line_without_carriage_returns(capsys, monkeypatch):
    monkeypatch.setattr(sequential_module, "_AUTO_BAR_ROWS", 100)
    x = np.zeros((5000, 16), np.float32)
    tutorial().predict(x, verbose="auto")
    err = capsys.readouterr().err
    # Before the fix: ~50 '\r' updates of a bar on one line.
    assert "\r" not in err
    assert err.count("\n") == 1 and err.startswith("5000/5000 rows - ")


def test_auto_on_a_terminal_draws_a_bar(monkeypatch):
    monkeypatch.setattr(sequential_module, "_AUTO_BAR_ROWS", 100)
    fake = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", fake)
    tutorial().predict(np.zeros((5000, 16), np.float32), verbose="auto")
    out = fake.getvalue()
    assert "\r" in out and "5000/5000 rows [" in out


def test_auto_below_the_threshold_is_silent(capsys):
    tutorial().predict(np.zeros((100, 16), np.float32), verbose="auto")
    assert capsys.readouterr().err == ""


def test_io_progress_none_follows_the_terminal(tmp_path, monkeypatch):
    fake = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", fake)
    dio.initialize_file(tmp_path / "a.npy", (64, 64), initializers.Ones(), chunk_bytes=4096)
    assert "a.npy" in fake.getvalue() and "100%" in fake.getvalue()


@pytest.mark.parametrize("stream", [None, "closed"])
def test_terminal_detection_survives_odd_streams(monkeypatch, stream):
    if stream == "closed":
        stream = io.StringIO()
        stream.close()
    monkeypatch.setattr(sys, "stderr", stream)
    assert _progress.stderr_is_terminal() is False
