"""`TerminateOnNaN`: stop `fit` at the first NaN or infinite training loss."""

import numpy as np

from densekit.callbacks._utils import print_msg
from densekit.callbacks.callback import Callback

__all__ = ["TerminateOnNaN"]


class TerminateOnNaN(Callback):
    """Stop training when a training batch's ``loss`` is NaN or infinite.

    Parameters
    ----------
    raise_error : bool, default=False
        False: print ``Batch 3: Invalid loss, terminating training`` and set
        ``model.stop_training``, so ``fit`` ends after that batch and still calls
        ``on_train_end``. True: raise RuntimeError at once, so no ``on_epoch_end`` or
        ``on_train_end`` runs.

    Examples
    --------
    >>> from densekit.callbacks import TerminateOnNaN
    >>> class Model:
    ...     stop_training = False
    >>> model = Model()
    >>> callback = TerminateOnNaN()
    >>> callback.set_model(model)
    >>> callback.on_train_batch_end(3, {"loss": float("nan")})
    Batch 3: Invalid loss, terminating training
    >>> model.stop_training
    True
    """

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or not (np.isnan(loss) or np.isinf(loss)):
            return
        if self.raise_error:
            raise RuntimeError(
                f"NaN or Inf loss encountered at batch {batch}. "
                f"Loss value: {loss}. Terminating training immediately."
            )
        print_msg(f"Batch {batch}: Invalid loss, terminating training")
        self.model.stop_training = True
