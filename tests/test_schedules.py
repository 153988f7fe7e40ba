"""densekit.optimizers.schedules: values against frozen Keras 3.15, configs, errors."""

import importlib.util
import json
import math
import os

import numpy as np
import pytest
from numpy.testing import assert_allclose

from densekit.optimizers import schedules

DATA = os.path.join(os.path.dirname(__file__), "data")
_spec = importlib.util.spec_from_file_location(
    "make_optimizer_refs", os.path.join(DATA, "make_optimizer_refs.py"))
REFS = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(REFS)
with open(os.path.join(DATA, "keras_schedules.json")) as _f:
    KERAS = json.load(_f)

CASES = REFS.SCHEDULE_CASES
IDS = [c[0] for c in CASES]


def _values(class_name, config, steps):
    sched = getattr(schedules, class_name)(**config)
    return [float(sched(s)) for s in steps]


@pytest.mark.parametrize("case, class_name, config", CASES, ids=IDS)
def test_matches_frozen_keras_values(case, class_name, config):
    got = _values(class_name, config, KERAS["steps"])
    assert_allclose(got, KERAS["values"][case], rtol=1e-6, atol=1e-12)


@pytest.mark.keras
@pytest.mark.parametrize("case, class_name, config", CASES, ids=IDS)
def test_matches_live_keras(keras, case, class_name, config):
    expected = REFS.run_keras_schedule(keras, class_name, config)
    assert_allclose(_values(class_name, config, REFS._STEPS), expected, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("case, class_name, config", CASES, ids=IDS)
def test_float32_results_and_array_steps(case, class_name, config):
    sched = getattr(schedules, class_name)(**config)
    value = sched(3)
    assert isinstance(value, np.float32)
    steps = np.array([0, 3, 11])
    assert_allclose(sched(steps), [sched(0), sched(3), sched(11)], rtol=0)


def test_formulas_in_float64_terms():
    t = np.arange(0, 40)
    assert_allclose([float(schedules.ExponentialDecay(0.5, 7, 0.3)(s)) for s in t],
                    np.float32(0.5) * 0.3 ** (t / 7), rtol=1e-6)
    assert_allclose([float(schedules.InverseTimeDecay(0.5, 7, 0.3, staircase=True)(s))
                     for s in t], np.float32(0.5) / (1 + 0.3 * np.floor(t / 7)), rtol=1e-6)
    cos = [float(schedules.CosineDecay(1.0, 20, alpha=0.25)(s)) for s in t]
    tt = np.minimum(t, 20)
    assert_allclose(cos, 0.75 * 0.5 * (1 + np.cos(math.pi * tt / 20)) + 0.25, rtol=1e-6,
                    atol=1e-7)
    poly = [float(schedules.PolynomialDecay(1.0, 10, end_learning_rate=0.0, power=3.0)(s))
            for s in t]
    assert_allclose(poly, (1 - np.minimum(t, 10) / 10) ** 3, rtol=1e-6, atol=1e-7)


def test_piecewise_boundaries_are_inclusive():
    s = schedules.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.25])
    assert [float(s(t)) for t in (0, 10, 11, 20, 21)] == [1.0, 1.0, 0.5, 0.5, 0.25]


@pytest.mark.parametrize("case, class_name, config", CASES, ids=IDS)
def test_config_round_trip(case, class_name, config):
    cls = getattr(schedules, class_name)
    sched = cls(**config)
    full = sched.get_config()
    assert {k: full[k] for k in config} == config
    assert cls.from_config(full).get_config() == full
    d = schedules.serialize(sched)
    assert d == {"module": "densekit.optimizers.schedules", "class_name": class_name,
                 "config": full, "registered_name": None}
    again = schedules.deserialize(d)
    assert type(again) is cls and again.get_config() == full


def test_keras_default_configs():
    assert schedules.ExponentialDecay(0.1, 10, 0.5).get_config() == {
        "initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.5,
        "staircase": False, "name": "ExponentialDecay"}
    assert schedules.CosineDecay(0.1, 10).get_config() == {
        "initial_learning_rate": 0.1, "decay_steps": 10, "alpha": 0.0, "name": "CosineDecay",
        "warmup_target": None, "warmup_steps": 0}
    assert schedules.CosineDecayRestarts(0.1, 10).get_config() == {
        "initial_learning_rate": 0.1, "first_decay_steps": 10, "t_mul": 2.0, "m_mul": 1.0,
        "alpha": 0.0, "name": "SGDRDecay"}
    assert schedules.PolynomialDecay(0.1, 10).get_config()["end_learning_rate"] == 0.0001
    assert schedules.PiecewiseConstantDecay([1], [1.0, 2.0]).get_config()["name"] == (
        "PiecewiseConstant")


@pytest.mark.parametrize("cls, arg", [
    (schedules.ExponentialDecay, "decay_steps"), (schedules.InverseTimeDecay, "decay_steps"),
    (schedules.PolynomialDecay, "decay_steps"), (schedules.CosineDecay, "decay_steps"),
    (schedules.CosineDecayRestarts, "first_decay_steps"),
])
@pytest.mark.parametrize("steps", [0, -3])
def test_steps_must_be_positive(cls, arg, steps):
    args = (0.1, steps, 0.5) if cls in (schedules.ExponentialDecay,
                                        schedules.InverseTimeDecay) else (0.1, steps)
    with pytest.raises(ValueError, match=f"Argument `{arg}` must be > 0. Received: {arg}={steps}"):
        cls(*args)


def test_errors():
    with pytest.raises(ValueError, match="The length of boundaries should be 1 less than the "
                                         "length of values. Received: boundaries=\\[1, 2\\] of "
                                         "length 2, and values=\\[1.0\\] of length 1."):
        schedules.PiecewiseConstantDecay([1, 2], [1.0])
    with pytest.raises(ValueError, match="Argument `initial_learning_rate` must be a number"):
        schedules.ExponentialDecay("0.1", 10, 0.5)
    with pytest.raises(ValueError, match="Could not interpret decay identifier"):
        schedules.deserialize({"class_name": "NoSuchDecay", "config": {}})
    base = schedules.LearningRateSchedule()
    with pytest.raises(NotImplementedError, match="must override `__call__"):
        base(1)
    with pytest.raises(NotImplementedError, match="must override `get_config"):
        base.get_config()


def test_custom_schedule_through_the_base_class():
    class Halving(schedules.LearningRateSchedule):
        def __init__(self, initial):
            self.initial = initial

        def __call__(self, step):
            return self.initial / 2 ** step

        def get_config(self):
            return {"initial": self.initial}

    s = Halving.from_config({"initial": 1.0})
    assert s(2) == 0.25
    assert schedules.deserialize(schedules.serialize(s), custom_objects={"Halving": Halving})(1) == 0.5
    assert repr(s) == "Halving(initial=1.0)"
