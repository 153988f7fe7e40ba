"""Learning-rate schedules (Keras 3 API): ExponentialDecay, PiecewiseConstantDecay,
PolynomialDecay, InverseTimeDecay, CosineDecay, CosineDecayRestarts.

A schedule passed as an optimizer's `learning_rate` is called with the
optimizer's iteration count before every update.
"""

from densekit._registry import Registry
from densekit.optimizers.schedules.learning_rate_schedule import (
    CosineDecay,
    CosineDecayRestarts,
    ExponentialDecay,
    InverseTimeDecay,
    LearningRateSchedule,
    PiecewiseConstantDecay,
    PolynomialDecay,
)

__all__ = [
    "ALL_OBJECTS",
    "ALL_OBJECTS_DICT",
    "CosineDecay",
    "CosineDecayRestarts",
    "ExponentialDecay",
    "InverseTimeDecay",
    "LearningRateSchedule",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
    "deserialize",
    "serialize",
]

ALL_OBJECTS = {
    CosineDecay,
    CosineDecayRestarts,
    ExponentialDecay,
    InverseTimeDecay,
    LearningRateSchedule,
    PiecewiseConstantDecay,
    PolynomialDecay,
}
_REGISTRY = Registry("decay", "densekit.optimizers.schedules", ALL_OBJECTS)
ALL_OBJECTS_DICT = _REGISTRY.objects_dict


def serialize(learning_rate_schedule):
    """Serialize a schedule to a Keras-shaped dict.

    Examples
    --------
    >>> from densekit.optimizers import schedules
    >>> schedules.serialize(schedules.ExponentialDecay(0.1, 10, 0.5))["config"]
    {'initial_learning_rate': 0.1, 'decay_steps': 10, 'decay_rate': 0.5, 'staircase': False, 'name': 'ExponentialDecay'}
    """
    return _REGISTRY.serialize(learning_rate_schedule)


def deserialize(config, custom_objects=None):
    """Rebuild a schedule from :func:`serialize`'s dict.

    Parameters
    ----------
    config : dict
        ``{"class_name": ..., "config": {...}}`` (other keys are ignored).
    custom_objects : dict, optional
        Extra name -> class mapping, searched first.

    Raises
    ------
    ValueError
        "Could not interpret decay identifier: ..." for an unknown class name.
    """
    return _REGISTRY.deserialize(config, custom_objects)
