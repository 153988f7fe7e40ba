"""The shared identifier lookup and the per-family options it is built with."""

import pytest

from densekit import activations, constraints, initializers, regularizers
from densekit._registry import Registry, to_snake_case


@pytest.mark.parametrize(
    ("name", "snake"),
    [("MaxNorm", "max_norm"), ("L1L2", "l1l2"), ("HeNormal", "he_normal"),
     ("OrthogonalRegularizer", "orthogonal_regularizer"), ("relu6", "relu6"),
     ("hard_silu", "hard_silu")],
)
def test_to_snake_case(name, snake):
    assert to_snake_case(name) == snake


class ToyThing:
    def __init__(self, k=1):
        self.k = k

    def __call__(self, x):
        return x

    def get_config(self):
        return {"k": self.k}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def test_toy_family():
    reg = Registry("widget", "pkg.widgets", {ToyThing}, {"alias": ToyThing})
    assert set(reg.objects_dict) == {"ToyThing", "toy_thing", "alias"}
    assert reg.get("alias").k == 1
    assert reg.get(reg.serialize(ToyThing(3))).k == 3
    assert reg.serialize(ToyThing())["module"] == "pkg.widgets"
    with pytest.raises(ValueError, match="^Could not interpret widget identifier: nope$"):
        reg.get("nope")
    with pytest.raises(TypeError, match="Argument `widget` must be a Widget"):
        reg.serialize(3)


def test_family_differences_are_kept():
    # A class given to activations.get is a callable, not instantiated.
    assert activations.get(constraints.MaxNorm) is constraints.MaxNorm
    assert isinstance(constraints.get(constraints.MaxNorm), constraints.MaxNorm)

    # Only initializers record a subclass of their own under its module and name.
    class MyC(constraints.Constraint):
        def get_config(self):
            return {}

    class MyR(regularizers.Regularizer):
        def get_config(self):
            return {}

    for family, obj in ((constraints, MyC()), (regularizers, MyR())):
        data = family.serialize(obj)
        assert data["module"] == family.__name__ and data["registered_name"] is None

    # None: initializers.deserialize passes it through, the others reject it.
    assert initializers.deserialize(None) is None
    with pytest.raises(ValueError, match="Could not interpret constraint identifier: None"):
        constraints.deserialize(None)
    # A non-dict "config" is converted by constraints, rejected by initializers.
    assert constraints.deserialize({"class_name": "MaxNorm",
                                    "config": [("max_value", 5)]}).get_config()["max_value"] == 5
    with pytest.raises(ValueError, match="Could not interpret initializer identifier"):
        initializers.deserialize({"class_name": "HeNormal", "config": [("seed", 2)]})
