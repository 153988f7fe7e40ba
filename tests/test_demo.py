"""`densekit demo` (src/densekit/_demo.py), issue 10.22: flushed line by line, progress
before every timing, seeded tutorial figures, and a truthful speed-up wording."""

import io
import re

import pytest

from densekit import _demo


class FlushRecorder(io.StringIO):
    """A stdout that records, for every completed line, whether it was flushed
    before anything else was written."""

    def __init__(self):
        super().__init__()
        self.pending = 0  # completed lines written since the last flush
        self.unflushed = []

    def write(self, text):
        if self.pending:
            self.unflushed.append(self.getvalue().splitlines()[-1])
            self.pending = 0
        self.pending += text.count("\n")
        return super().write(text)

    def flush(self):
        self.pending = 0
        super().flush()


@pytest.fixture
def demo_output(monkeypatch):
    out = FlushRecorder()
    monkeypatch.setattr("sys.stdout", out)
    status = _demo.run(size=64, n_threads=2, repeat=1, width=64)
    assert status == 0
    return out


def test_every_line_is_flushed_when_printed(demo_output):
    # Block-buffered output reached a pipe only at exit: each line must be flushed
    # before the next one is written.
    assert demo_output.unflushed == []
    assert demo_output.getvalue().count("\n") > 20


def test_each_timing_is_announced_before_it_runs(demo_output):
    lines = demo_output.getvalue().splitlines()
    for result in ("RandomUniform ", "RandomNormal ", "HeNormal (truncated) ",
                   "initialization (glorot_uniform)", "forward pass, batch"):
        i = next(k for k, line in enumerate(lines) if line.strip().startswith(result))
        assert lines[i - 1].startswith("  ... timing "), (result, lines[i - 1])


def test_tutorial_predict_figures_are_seeded(capsys):
    figures = []
    for _ in range(2):
        _demo._tutorial_tour(n_threads=1)
        out = capsys.readouterr().out
        figures.append([line for line in out.splitlines() if line.startswith("predict on")])
    assert len(figures[0]) == 1
    assert figures[0] == figures[1]
    # and the summary carries no warning: the model declares its input with Input()
    assert "Total params: 1,208 (4.72 KB)" in out


@pytest.mark.parametrize(
    "theirs, ours, text",
    [(2.0, 1.0, "speed-up  2.00x"), (1.0, 1.0, "speed-up  1.00x"),
     (0.75, 1.0, "speed-up  0.75x (densekit slower)")],
)
def test_speedup_wording_says_when_densekit_is_slower(theirs, ours, text):
    assert _demo._speedup(theirs, ours) == text


def test_last_line_states_the_measured_ratio_truthfully(demo_output):
    last = demo_output.getvalue().splitlines()[-1]
    m = re.search(r"densekit +([\d.]+) GFLOP/s +numpy +([\d.]+) GFLOP/s +speed-up +([\d.]+)x",
                  last)
    assert m, last
    assert last.endswith("(densekit slower)") == (float(m.group(3)) < 1)


def test_the_tutorial_model_trains_and_its_loss_falls(demo_output):
    # issue 12: the demo shows the next chapter of the tutorial (compile, fit).
    lines = [line for line in demo_output.getvalue().splitlines()
             if line.strip().startswith("epoch ")]
    losses = [float(line.split("loss ")[1].split()[0]) for line in lines]
    assert len(losses) == 5
    assert losses[-1] < losses[0]
    assert "MaxNorm: <= 2" in demo_output.getvalue()
