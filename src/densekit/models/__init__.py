"""Keras-shaped models: `Sequential`, and `model_from_json` for its JSON."""

from densekit.models.sequential import Sequential, model_from_json

__all__ = ["Sequential", "model_from_json"]
