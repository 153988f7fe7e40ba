"""Generate tests/data/loss_refs.npz and metric_refs.npz from a real Keras 3.15 (jax backend).

Run with a Python that has keras==3.15.1 and jax (not a densekit dependency):

    KERAS_BACKEND=jax JAX_ENABLE_X64=1 python tests/data/make_loss_refs.py

x64 is enabled so that ``dtype="float64"`` losses really compute in float64;
the default (float32) losses are unaffected. The inputs are generated here
from fixed seeds and stored next to the outputs, so the tests need no Keras.
The case lists (LOSS_CASES, METRIC_CASES, make_inputs) are imported by
tests/test_losses.py and tests/test_metrics.py for the live cross-checks.
"""

import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REDUCTIONS = ["sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", None]

# (case id, Keras class name, constructor kwargs, input kind)
LOSS_CASES = [
    ("mse", "MeanSquaredError", {}, "reg"),
    ("mae", "MeanAbsoluteError", {}, "reg"),
    ("mape", "MeanAbsolutePercentageError", {}, "mape"),
    ("msle", "MeanSquaredLogarithmicError", {}, "msle"),
    ("huber", "Huber", {}, "reg"),
    ("huber_d05", "Huber", {"delta": 0.5}, "reg"),
    ("log_cosh", "LogCosh", {}, "reg_wide"),
    ("bce", "BinaryCrossentropy", {}, "bin_prob"),
    ("bce_ls", "BinaryCrossentropy", {"label_smoothing": 0.1}, "bin_prob"),
    ("bce_logits", "BinaryCrossentropy", {"from_logits": True}, "bin_logit"),
    ("bce_logits_ls", "BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.2}, "bin_logit"),
    ("bce_axis0", "BinaryCrossentropy", {"axis": 0}, "bin_prob_axis0"),
    ("cce", "CategoricalCrossentropy", {}, "cat_prob"),
    ("cce_ls", "CategoricalCrossentropy", {"label_smoothing": 0.1}, "cat_prob"),
    ("cce_logits", "CategoricalCrossentropy", {"from_logits": True}, "cat_logit"),
    ("cce_logits_ls", "CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.3}, "cat_logit"),
    ("cce_axis0", "CategoricalCrossentropy", {"axis": 0}, "cat_prob_axis0"),
    ("scce", "SparseCategoricalCrossentropy", {}, "sparse_prob"),
    ("scce_logits", "SparseCategoricalCrossentropy", {"from_logits": True}, "sparse_logit"),
    ("scce_col", "SparseCategoricalCrossentropy", {"from_logits": True}, "sparse_logit_col"),
    ("scce_ignore", "SparseCategoricalCrossentropy", {"from_logits": True, "ignore_class": 2}, "sparse_logit"),
    ("hinge01", "Hinge", {}, "bin_score"),
    ("hinge_pm", "Hinge", {}, "pm_score"),
    ("squared_hinge", "SquaredHinge", {}, "bin_score"),
    ("categorical_hinge", "CategoricalHinge", {}, "cat_score"),
    ("kld", "KLDivergence", {}, "kld"),
    ("poisson", "Poisson", {}, "poisson"),
    ("cosine", "CosineSimilarity", {}, "cosine"),
    ("cosine_axis0", "CosineSimilarity", {"axis": 0}, "reg_axis0"),
    ("mse_1d", "MeanSquaredError", {}, "reg_1d"),
    ("mse_3d", "MeanSquaredError", {}, "reg_3d"),
]

# Fused heads: Keras' loss on activation(z) with from_logits=False, z with saturated entries.
FUSED_CASES = [
    ("fused_cce", "CategoricalCrossentropy", {}, "softmax", "cat_extreme"),
    ("fused_cce_ls", "CategoricalCrossentropy", {"label_smoothing": 0.1}, "softmax", "cat_extreme"),
    ("fused_scce", "SparseCategoricalCrossentropy", {}, "softmax", "sparse_extreme"),
    ("fused_bce", "BinaryCrossentropy", {}, "sigmoid", "bin_extreme"),
    ("fused_bce_ls", "BinaryCrossentropy", {"label_smoothing": 0.1}, "sigmoid", "bin_extreme"),
]


def make_inputs(kind, seed=0):
    """(y_true, y_pred, sample_weight) in float64 for an input kind."""
    if kind.endswith("_axis0"):  # reduced over axis 0: one weight per column
        t, p, _ = make_inputs(kind[: -len("_axis0")], seed)
        return t, p, np.random.default_rng(seed + 1).uniform(0.2, 2.0, t.shape[1])
    rng = np.random.default_rng(seed)
    n, c = 6, 5
    sw = rng.uniform(0.2, 2.0, n)
    if kind == "reg":
        return rng.normal(size=(n, c)), rng.normal(size=(n, c)), sw
    if kind == "reg_wide":
        return rng.normal(size=(n, c)), 30 * rng.normal(size=(n, c)), sw
    if kind == "reg_1d":
        return rng.normal(size=n), rng.normal(size=n), sw
    if kind == "reg_3d":
        return rng.normal(size=(n, 3, c)), rng.normal(size=(n, 3, c)), sw[:, None]
    if kind == "mape":
        t = rng.normal(size=(n, c))
        t[0, 0] = 0.0
        return t, rng.normal(size=(n, c)), sw
    if kind == "msle":
        t = rng.uniform(0, 3, (n, c))
        p = rng.uniform(-0.5, 3, (n, c))
        return t, p, sw
    if kind in ("bin_prob", "bin_score"):
        t = rng.integers(0, 2, (n, c)).astype(float)
        p = rng.uniform(0, 1, (n, c)) if kind == "bin_prob" else rng.normal(size=(n, c))
        if kind == "bin_prob":
            p[0, 0], p[1, 1] = 0.0, 1.0
        return t, p, sw
    if kind == "pm_score":
        return 2 * rng.integers(0, 2, (n, c)) - 1.0, rng.normal(size=(n, c)), sw
    if kind == "bin_logit":
        return rng.integers(0, 2, (n, c)).astype(float), 3 * rng.normal(size=(n, c)), sw
    if kind in ("cat_prob", "cat_logit", "cat_score"):
        t = np.eye(c)[rng.integers(0, c, n)]
        if kind == "cat_prob":
            p = rng.uniform(0, 1, (n, c))  # rows not normalised: Keras divides by the sum
            p[0, 1] = 0.0
            p[1] = [0.0, 0.0, 1.0, 0.0, 0.0]
            t[1] = [0.0, 1.0, 0.0, 0.0, 0.0]
        else:
            p = 2 * rng.normal(size=(n, c))
        return t, p, sw
    if kind in ("sparse_prob", "sparse_logit", "sparse_logit_col"):
        t = rng.integers(0, c, n).astype(float)
        t[:3] = [2, 0, 2]
        if kind == "sparse_prob":
            p = rng.uniform(0.01, 1, (n, c))
        else:
            p = 2 * rng.normal(size=(n, c))
        if kind == "sparse_logit_col":
            t = t[:, None]
        return t, p, sw
    if kind == "kld":
        t = rng.uniform(0, 1, (n, c))
        t[0, 0] = 0.0
        p = rng.uniform(0, 1, (n, c))
        p[1, 1] = 0.0
        return t, p, sw
    if kind == "poisson":
        return rng.poisson(2.0, (n, c)).astype(float), rng.uniform(0.1, 4, (n, c)), sw
    if kind == "cosine":
        t = rng.normal(size=(n, c))
        p = rng.normal(size=(n, c))
        p[2] = 0.0
        return t, p, sw
    if kind == "cat_extreme":
        t = np.eye(c)[rng.integers(0, c, n)]
        z = 3 * rng.normal(size=(n, c))
        z[0] = [30.0, 0.0, 0.0, 0.0, 0.0]  # p ~ 1 - 4e-13: clipped at 1 - 1e-7
        t[0] = [1.0, 0.0, 0.0, 0.0, 0.0]
        z[1] = [-30.0, 0.0, 0.0, 0.0, 0.0]  # p ~ 1e-13: clipped at 1e-7
        t[1] = [1.0, 0.0, 0.0, 0.0, 0.0]
        return t, z, sw
    if kind == "sparse_extreme":
        t = rng.integers(0, c, n).astype(float)
        z = 3 * rng.normal(size=(n, c))
        z[0] = [30.0, 0.0, 0.0, 0.0, 0.0]
        z[1] = [-30.0, 0.0, 0.0, 0.0, 0.0]
        t[:2] = 0
        return t, z, sw
    if kind == "bin_extreme":
        t = rng.integers(0, 2, (n, c)).astype(float)
        z = 3 * rng.normal(size=(n, c))
        z[0, :3] = [25.0, -25.0, 12.0]
        t[0, :3] = [0.0, 1.0, 0.0]
        return t, z, sw
    raise ValueError(kind)


# (case id, Keras class name, kwargs, input kind, number of update_state calls)
METRIC_CASES = [
    ("mean", "Mean", {}, "values"),
    ("sum", "Sum", {}, "values"),
    ("mse", "MeanSquaredError", {}, "reg"),
    ("mae", "MeanAbsoluteError", {}, "reg"),
    ("mape", "MeanAbsolutePercentageError", {}, "reg"),
    ("rmse", "RootMeanSquaredError", {}, "reg"),
    ("logcosh", "LogCoshError", {}, "reg"),
    ("cosine", "CosineSimilarity", {}, "reg"),
    ("accuracy", "Accuracy", {}, "int_pairs"),
    ("binary_accuracy", "BinaryAccuracy", {}, "bin_prob"),
    ("binary_accuracy_t", "BinaryAccuracy", {"threshold": 0.7}, "bin_prob"),
    ("categorical_accuracy", "CategoricalAccuracy", {}, "cat_prob"),
    ("sparse_categorical_accuracy", "SparseCategoricalAccuracy", {}, "sparse_prob"),
    ("top_k", "TopKCategoricalAccuracy", {"k": 2}, "cat_prob"),
    ("sparse_top_k", "SparseTopKCategoricalAccuracy", {"k": 2}, "sparse_prob"),
    ("bce", "BinaryCrossentropy", {}, "bin_prob"),
    ("cce", "CategoricalCrossentropy", {}, "cat_prob"),
    ("scce", "SparseCategoricalCrossentropy", {}, "sparse_prob"),
    ("kld", "KLDivergence", {}, "bin_prob"),
    ("hinge", "Hinge", {}, "bin_prob"),
    ("precision", "Precision", {}, "bin_prob"),
    ("precision_thr", "Precision", {"thresholds": [0.3, 0.5, 0.7]}, "bin_prob"),
    ("precision_top_k", "Precision", {"top_k": 2}, "bin_prob"),
    ("precision_class", "Precision", {"class_id": 1}, "bin_prob"),
    ("recall", "Recall", {}, "bin_prob"),
    ("recall_thr", "Recall", {"thresholds": [0.0, 0.5, 1.0]}, "bin_prob"),
    ("auc", "AUC", {}, "bin_prob"),
    ("auc_pr", "AUC", {"curve": "PR"}, "bin_prob"),
    ("auc_prgain", "AUC", {"curve": "PRGAIN"}, "bin_prob"),
    ("auc_minoring", "AUC", {"summation_method": "minoring", "num_thresholds": 50}, "bin_prob"),
    ("auc_majoring", "AUC", {"summation_method": "majoring"}, "bin_prob"),
    ("auc_thresholds", "AUC", {"thresholds": [0.1, 0.4, 0.45, 0.8]}, "bin_prob"),
    ("auc_multi", "AUC", {"multi_label": True}, "bin_prob"),
    ("auc_logits", "AUC", {"from_logits": True}, "bin_score"),
]
METRIC_CALLS = 3


def make_metric_inputs(kind, call):
    """(y_true, y_pred, sample_weight or None) for update_state call number `call`."""
    rng = np.random.default_rng(100 + call)
    n, c = 8, 4
    sw = None if call == 0 else rng.uniform(0.0, 2.0, n)
    if kind == "values":
        return None, rng.normal(size=(n, c)), sw
    if kind == "reg":
        return rng.normal(size=(n, c)), rng.normal(size=(n, c)), sw
    if kind == "int_pairs":
        return rng.integers(0, 3, (n, 1)), rng.integers(0, 3, (n, 1)).astype(float), sw
    if kind == "bin_prob":
        return rng.integers(0, 2, (n, c)).astype(float), rng.uniform(0, 1, (n, c)), sw
    if kind == "bin_score":
        return rng.integers(0, 2, (n, c)).astype(float), 2 * rng.normal(size=(n, c)), sw
    if kind == "cat_prob":
        return np.eye(c)[rng.integers(0, c, n)], rng.uniform(0, 1, (n, c)), sw
    if kind == "sparse_prob":
        return rng.integers(0, c, n).astype(float), rng.uniform(0.01, 1, (n, c)), sw
    raise ValueError(kind)


def keras_loss_value(keras, case, dtype, reduction, weighted):
    """Keras' value for one loss case (numpy float64 array)."""
    _, cls, kwargs, kind = case
    t, p, sw = make_inputs(kind)
    loss = getattr(keras.losses, cls)(reduction=reduction, dtype=dtype, **kwargs)
    value = loss(t.astype(dtype), p.astype(dtype), sample_weight=sw.astype(dtype) if weighted else None)
    return np.asarray(value, dtype=np.float64)


def keras_metric_results(keras, case):
    """Keras' result after each update_state call (list of float64 arrays)."""
    _, cls, kwargs, kind = case
    metric = getattr(keras.metrics, cls)(**kwargs)
    out = []
    for call in range(METRIC_CALLS):
        t, p, sw = make_metric_inputs(kind, call)
        if kind == "values":
            metric.update_state(p, sample_weight=sw)
        else:
            metric.update_state(t, p, sample_weight=sw)
        out.append(np.asarray(metric.result(), dtype=np.float64))
    return out


def main():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import keras

    assert keras.__version__ == "3.15.1", keras.__version__
    assert keras.backend.backend() == "jax"
    arrays = {}
    index = {"keras": keras.__version__, "backend": "jax", "losses": [], "metrics": [],
             "fused": [], "configs": {}}
    for case in LOSS_CASES:
        cid, cls, kwargs, kind = case
        t, p, sw = make_inputs(kind)
        arrays[f"{cid}/y_true"], arrays[f"{cid}/y_pred"], arrays[f"{cid}/sw"] = t, p, sw
        for dtype in ("float32", "float64"):
            for r in REDUCTIONS:
                for weighted in (False, True):
                    key = f"{cid}/{dtype}/{r}/{int(weighted)}"
                    arrays[key] = keras_loss_value(keras, case, dtype, r, weighted)
        # jax autodiff of Keras' float64 loss, for every reduction (None: of the sum)
        for r in REDUCTIONS:
            for weighted in (False, True):
                loss = getattr(keras.losses, cls)(reduction=r, dtype="float64", **kwargs)
                w = jnp.asarray(sw) if weighted else None

                def f(pp, loss=loss, w=w):
                    return jnp.sum(loss(jnp.asarray(t), pp, sample_weight=w))

                arrays[f"{cid}/grad/{r}/{int(weighted)}"] = np.asarray(jax.grad(f)(jnp.asarray(p)))
        index["losses"].append(cid)
        index["configs"][cid] = getattr(keras.losses, cls)(**kwargs).get_config()
    for cid, cls, kwargs, act, kind in FUSED_CASES:
        t, z, sw = make_inputs(kind)
        arrays[f"{cid}/y_true"], arrays[f"{cid}/logits"], arrays[f"{cid}/sw"] = t, z, sw
        activation = getattr(keras.activations, act)
        for dtype in ("float32", "float64"):
            loss = getattr(keras.losses, cls)(dtype=dtype, **kwargs)
            zz = jnp.asarray(z.astype(dtype))

            def f(zz, loss=loss, tt=jnp.asarray(t.astype(dtype)), w=jnp.asarray(sw.astype(dtype))):
                return loss(tt, activation(zz), sample_weight=w)

            value, grad = jax.value_and_grad(f)(zz)
            arrays[f"{cid}/{dtype}/value"] = np.asarray(value, np.float64)
            arrays[f"{cid}/{dtype}/grad"] = np.asarray(grad, np.float64)
        index["fused"].append(cid)
    for case in METRIC_CASES:
        cid = case[0]
        for call, value in enumerate(keras_metric_results(keras, case)):
            arrays[f"metric/{cid}/{call}"] = value
        metric = getattr(keras.metrics, case[1])(**case[2])
        index["metrics"].append(cid)
        index["configs"]["metric/" + cid] = {k: v for k, v in metric.get_config().items()
                                             if k != "label_weights"}
    np.savez_compressed(os.path.join(HERE, "loss_refs.npz"), **arrays)
    with open(os.path.join(HERE, "loss_refs.json"), "w") as fh:
        json.dump(index, fh, indent=1, sort_keys=True, default=str)
        fh.write("\n")
    print(f"wrote {len(arrays)} arrays", file=sys.stderr)


if __name__ == "__main__":
    main()
