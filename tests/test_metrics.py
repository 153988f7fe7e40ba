"""densekit.metrics: results against frozen Keras 3.15 references after several
update_state calls, state handling, names, compile-style resolution and the Keras API."""

import importlib.util
import json
import os
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose

from densekit import losses, metrics

DATA = os.path.join(os.path.dirname(__file__), "data")
_spec = importlib.util.spec_from_file_location("make_loss_refs", os.path.join(DATA, "make_loss_refs.py"))
refs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(refs)
REF = np.load(os.path.join(DATA, "loss_refs.npz"))
with open(os.path.join(DATA, "loss_refs.json")) as fh:
    INDEX = json.load(fh)

CASES = {case[0]: case for case in refs.METRIC_CASES}


def _metric(case_id):
    _, cls, kwargs, _ = CASES[case_id]
    return getattr(metrics, cls)(**kwargs)


def _update(metric, kind, call):
    t, p, sw = refs.make_metric_inputs(kind, call)
    if kind == "values":
        metric.update_state(p, sample_weight=sw)
    else:
        metric.update_state(t, p, sample_weight=sw)


@pytest.mark.parametrize("case_id", list(CASES))
def test_results_match_keras_after_each_update(case_id):
    metric = _metric(case_id)
    kind = CASES[case_id][3]
    for call in range(refs.METRIC_CALLS):  # the first call is unweighted, the others weighted
        _update(metric, kind, call)
        result = metric.result()
        expected = REF[f"metric/{case_id}/{call}"]
        assert np.shape(result) == expected.shape
        assert np.asarray(result).dtype == np.float32
        assert_allclose(result, expected, rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("case_id", list(CASES))
def test_reset_state_starts_over(case_id):
    metric = _metric(case_id)
    kind = CASES[case_id][3]
    _update(metric, kind, 0)
    metric.reset_state()
    for v in metric.variables:
        assert not np.any(v)
    _update(metric, kind, 1)
    fresh = _metric(case_id)
    _update(fresh, kind, 1)
    assert_allclose(metric.result(), fresh.result(), rtol=1e-7)


@pytest.mark.parametrize("case_id", list(CASES))
def test_config_matches_keras_and_round_trips(case_id):
    metric = _metric(case_id)
    config = metric.get_config()
    keras_config = INDEX["configs"]["metric/" + case_id]
    assert set(config) - {"label_weights"} == set(keras_config)
    for key, value in keras_config.items():
        if key == "name" and CASES[case_id][1] in ("Precision", "Recall", "AUC"):
            continue  # auto names carry a session counter ('auc_3')
        assert config[key] == value, key
    clone = type(metric).from_config(config)
    assert clone.get_config() == config
    again = metrics.deserialize(metrics.serialize(metric))
    assert type(again) is type(metric) and again.get_config() == config


def test_default_names_as_in_keras_logs():
    assert metrics.Mean().name == "mean"
    assert metrics.MeanSquaredError().name == "mean_squared_error"
    assert metrics.RootMeanSquaredError().name == "root_mean_squared_error"
    assert metrics.SparseCategoricalAccuracy().name == "sparse_categorical_accuracy"
    assert metrics.LogCoshError().name == "logcosh"
    a, b = metrics.Precision(), metrics.Precision()
    assert a.name.startswith("precision") and b.name.startswith("precision") and a.name != b.name
    assert metrics.AUC(name="my_auc").name == "my_auc"


def test_calling_updates_and_returns_result():
    m = metrics.Mean()
    assert m.result() == 0
    assert m([1, 3]) == 2
    assert m([5], sample_weight=[2]) == (1 + 3 + 10) / 4


def test_state_accumulates_in_float64():
    m = metrics.Mean()
    for _ in range(1000):
        m.update_state(np.full(1000, 0.1, np.float32))
    assert m.total.dtype == np.float64
    assert_allclose(m.result(), np.float32(0.1), rtol=1e-7)


def test_keras_documented_examples():
    m = metrics.AUC()
    m.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])
    assert_allclose(m.result(), 0.75, rtol=1e-6)
    m = metrics.Precision()
    m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
    assert_allclose(m.result(), 2 / 3, rtol=1e-6)
    m = metrics.RootMeanSquaredError()
    m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]])
    assert_allclose(m.result(), 0.5, rtol=1e-6)
    m = metrics.SparseTopKCategoricalAccuracy(k=1)
    m.update_state([2, 1], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]])
    assert_allclose(m.result(), 0.5)


def test_get_names_aliases_and_errors():
    assert isinstance(metrics.get("mse"), metrics.MeanSquaredError)
    assert isinstance(metrics.get("MAE"), metrics.MeanAbsoluteError)
    assert isinstance(metrics.get("mean_squared_error"), metrics.MeanSquaredError)
    assert isinstance(metrics.get("binary_crossentropy"), metrics.BinaryCrossentropy)
    assert isinstance(metrics.get("bce"), metrics.BinaryCrossentropy)
    assert isinstance(metrics.get("AUC"), metrics.AUC)
    assert isinstance(metrics.get("accuracy"), metrics.Accuracy)
    assert metrics.get(None) is None
    for bad in ("nope", "crossentropy", 3):
        with pytest.raises(ValueError, match=f"Could not interpret metric identifier: {bad}"):
            metrics.get(bad)


@pytest.mark.parametrize("identifier", ["accuracy", "acc", "ACC", "Accuracy"])
def test_resolve_accuracy_from_shapes_like_keras_compile(identifier):
    binary = metrics._resolve(identifier, (8, 1), (8, 1), loss="binary_crossentropy")
    sparse = metrics._resolve(identifier, (8,), (8, 3))
    sparse_col = metrics._resolve(identifier, (8, 1), (8, 3))
    categorical = metrics._resolve(identifier, (8, 3), (8, 3))
    assert type(binary) is metrics.BinaryAccuracy
    assert type(sparse) is metrics.SparseCategoricalAccuracy
    assert type(sparse_col) is metrics.SparseCategoricalAccuracy
    assert type(categorical) is metrics.CategoricalAccuracy
    assert {binary.name, sparse.name, categorical.name} == {identifier}


def test_resolve_other_identifiers():
    mse = metrics._resolve("mse", (4, 2), (4, 2))
    assert type(mse) is metrics.MeanSquaredError and mse.name == "mse"
    p = metrics.Precision(name="p")
    assert metrics._resolve(p, (4,), (4,)) is p and p.name == "p"
    wrapped = metrics._resolve(losses.mean_absolute_error, (4, 2), (4, 2))
    assert type(wrapped) is metrics.MeanMetricWrapper and wrapped.name == "mean_absolute_error"
    wrapped.update_state(np.zeros((2, 2)), np.ones((2, 2)))
    assert wrapped.result() == 1
    with pytest.raises(ValueError, match="Expected metric, received `None`"):
        metrics._resolve(None, (4,), (4,))
    with pytest.raises(ValueError, match="Could not interpret metric identifier: crossentropy"):
        metrics._resolve("crossentropy", (4,), (4, 3))


def test_validation_messages():
    with pytest.raises(ValueError, match='Invalid AUC curve value: "bad". Expected values are'):
        metrics.AUC(curve="bad")
    with pytest.raises(ValueError, match="Invalid AUC summation method value"):
        metrics.AUC(summation_method="bad")
    with pytest.raises(ValueError, match=r"Argument `num_thresholds` must be an integer > 1. "
                                         r"Received: num_thresholds=1"):
        metrics.AUC(num_thresholds=1)
    with pytest.raises(ValueError, match=r"Threshold values must be in \[0, 1\]. Received: \[1.5\]"):
        metrics.Precision(thresholds=[1.5])
    with pytest.raises(ValueError, match="`num_labels` is needed only when `multi_label` is True."):
        metrics.AUC(num_labels=3)
    with pytest.raises(ValueError, match="must have rank 2 when `multi_label=True`"):
        metrics.AUC(multi_label=True).update_state([0, 1], [0.2, 0.7])
    with pytest.raises(ValueError, match="When class_id is provided, y_pred must be a 2D array"):
        metrics.Recall(class_id=1).update_state([0, 1], [0.2, 0.7])
    with pytest.raises(ValueError, match="Argument `dtype`"):
        metrics.Mean(dtype="int8")


def test_float64_dtype_results():
    m = metrics.MeanSquaredError(dtype="float64")
    m.update_state([[0.1, 0.2]], [[0.3, 0.1]])
    assert m.result().dtype == np.float64
    assert m.get_config()["dtype"] == "float64"


@pytest.mark.keras
@pytest.mark.parametrize("case_id", list(CASES))
def test_live_keras_results(keras, case_id):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = refs.keras_metric_results(keras, CASES[case_id])
    metric = _metric(case_id)
    for call in range(refs.METRIC_CALLS):
        _update(metric, CASES[case_id][3], call)
        assert_allclose(metric.result(), expected[call], rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("value", [0.1, np.float32(0.3), np.float64(-2.5), np.float32(np.nan)])
@pytest.mark.parametrize("weight", [None, 7, 0])
def test_mean_scalar_fast_path_equals_the_array_path(value, weight):
    # issue 12: a trainer's per-batch loss takes a scalar path; it must give the bits
    # of the general path (the same value passed as a 0-d array).
    from densekit.metrics import Mean

    fast, slow = Mean(), Mean()
    for _ in range(3):
        fast.update_state(value, sample_weight=weight)
        slow.update_state(np.asarray([value]).reshape(()),
                          sample_weight=None if weight is None else np.asarray(weight))
    assert float(fast.count) == float(slow.count)
    np.testing.assert_array_equal(np.float64(fast.total), np.float64(slow.total))
    np.testing.assert_array_equal(fast.result(), slow.result())
