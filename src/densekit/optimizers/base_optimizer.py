"""The optimizer base class (Keras 3's ``BaseOptimizer``) over in-place numpy weights.

Weights are C-contiguous float32 or float64 numpy arrays that the optimizer
updates in place; its state (``variables``) is a list of numpy arrays in Keras'
order. Python validates and prepares the step's scalars; each parameter's
update, with clipping and weight decay folded in, is one compiled pass
(``densekit._lib._optimizers``).
"""

import numbers
import re
import warnings

import numpy as np

from densekit._lib import _optimizers as _k
from densekit._registry import to_snake_case
from densekit._threads import effective_n_threads, threads_for
from densekit.optimizers import _scalars as _sc
from densekit.optimizers import schedules as _schedules
from densekit.optimizers.schedules import LearningRateSchedule

# Rough flops per variable element of one update (Adam's), for threads_for.
_UPDATE_FLOPS = 10

__all__ = ["Optimizer"]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_NO_SCALARS = (0.0,)
_NAME_COUNTS = {}


def _auto_name(class_name):
    """Keras' automatic names: "adam", then "adam_1", "adam_2", ..."""
    base = to_snake_case(class_name)
    count = _NAME_COUNTS.get(base, 0)
    _NAME_COUNTS[base] = count + 1
    return base if count == 0 else f"{base}_{count}"


def _check_optional_number(name, value):
    if value is None:
        return
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"Argument `{name}` must be a float or None. Received: {name}={value!r}")


def _check_real(name, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"Argument `{name}` must be a float. Received: {name}={value!r}")


class Optimizer:
    """Base class of densekit optimizers (Keras 3's ``keras.optimizers.Optimizer``).

    A subclass creates its per-variable slots in :meth:`build` (through
    :meth:`add_optimizer_variables`, so that :attr:`variables` has Keras'
    order) and names its update rule: ``_KIND`` (a ``densekit._lib._optimizers``
    code), ``_slot_arrays(index)`` and ``_step_scalars(t, lr)``; one kernel call
    then updates every variable of a step.

    Parameters
    ----------
    learning_rate : float, LearningRateSchedule or callable
        A Python float (stored as a float32 scalar, as Keras stores it in a
        float32 variable), a schedule called with the iteration count, or a
        callable with no arguments.
    weight_decay : float, optional
        If set, ``w := w - w * weight_decay * lr`` before each update (for the
        variables not excluded by :meth:`exclude_from_weight_decay`).
    clipnorm : float, optional
        Clip each gradient to this L2 norm: ``g * clipnorm / max(||g||, clipnorm)``.
    clipvalue : float, optional
        Clip each gradient element to ``[-clipvalue, clipvalue]``.
    global_clipnorm : float, optional
        Scale all gradients together so that their joint L2 norm is at most this.
        At most one of `clipnorm`, `clipvalue` and `global_clipnorm` may be set.
    use_ema : bool, default=False
        Keep an exponential moving average of the weights (one extra slot per
        variable): ``avg := m * avg + (1 - m) * w`` after every step, with
        ``m = 0`` on the first step.
    ema_momentum : float, default=0.99
        The EMA's momentum `m`, in [0, 1].
    ema_overwrite_frequency : int, optional
        Every this many steps, overwrite the weights with their average.
    loss_scale_factor : float, optional
        Gradients are divided by this before anything else (the loss is
        expected to have been multiplied by it, see :meth:`scale_loss`).
    gradient_accumulation_steps : int, optional
        If set (>= 2), gradients are summed over this many calls and applied,
        averaged, on every `gradient_accumulation_steps`-th call only.
    name : str, optional
        The optimizer's name (Keras' automatic ``"adam"``, ``"adam_1"``, ... if None).
    n_threads : int, optional
        densekit's own argument (not in the config): the threads of each step,
        resolved by ``densekit._threads.effective_n_threads`` at every step (see
        Notes). Results do not depend on the thread count.
    **kwargs
        ``decay`` is accepted and ignored with a warning, as in Keras; any other
        keyword raises ``ValueError("Argument(s) not recognized: ...")``.

    Notes
    -----
    Every Keras 3.15 constructor argument is accepted and acts as in Keras.
    What has no meaning here: variables' distribution settings (aggregation,
    layouts) and Keras' ``overwrite_with_gradient`` variables (float8 training).
    Unlike Keras, applying the weights' constraints after an update is left to
    the caller (numpy arrays carry no constraint): the trainer does it.

    Numerics follow Keras: the float learning rate is stored as float32 (so
    ``get_config()["learning_rate"]`` of 0.001 is 0.0010000000474974513), each
    step's scalars and every element-wise operation are done in the weight's
    dtype in Keras' order, and a gradient is cast to its variable's dtype.

    Threads: one compiled call updates all variables of a step (clipping and
    weight decay folded in), over fixed chunks of each variable, so results
    are bit-identical for every `n_threads`; the thread count comes from the
    work size (``densekit._threads.threads_for``, about 10 flops per element),
    so a small step runs on the calling thread without an OpenMP region.
    """

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, n_threads=None, **kwargs):
        if kwargs.pop("decay", None) is not None:
            warnings.warn("Argument `decay` is no longer supported and will be ignored.",
                          stacklevel=3)
        if kwargs:
            raise ValueError(f"Argument(s) not recognized: {kwargs}")
        if name is None:
            name = _auto_name(self.__class__.__name__)
        elif not isinstance(name, str):
            raise ValueError(f"Argument `name` must be a string. Received: name={name!r}")
        for arg, value in (("weight_decay", weight_decay), ("clipnorm", clipnorm),
                           ("clipvalue", clipvalue), ("global_clipnorm", global_clipnorm),
                           ("loss_scale_factor", loss_scale_factor)):
            _check_optional_number(arg, value)
        if loss_scale_factor is not None and loss_scale_factor == 0:
            raise ValueError(
                "Argument `loss_scale_factor` must be non-zero. "
                f"Received: loss_scale_factor={loss_scale_factor}"
            )
        if gradient_accumulation_steps:
            if (isinstance(gradient_accumulation_steps, bool)
                    or not isinstance(gradient_accumulation_steps, numbers.Integral)
                    or not gradient_accumulation_steps >= 2):
                raise ValueError(
                    "`gradient_accumulation_steps` must be an integer >= 2. "
                    "Received: gradient_accumulation_steps="
                    f"{gradient_accumulation_steps}"
                )
        _check_real("ema_momentum", ema_momentum)
        if use_ema:
            if ema_momentum > 1 or ema_momentum < 0:
                raise ValueError(
                    "`ema_momentum` must be in the range [0, 1]. "
                    f"Received: ema_momentum={ema_momentum}"
                )
            if ema_overwrite_frequency and (
                not isinstance(ema_overwrite_frequency, int)
                or isinstance(ema_overwrite_frequency, bool)
                or ema_overwrite_frequency < 1
            ):
                raise ValueError(
                    "`ema_overwrite_frequency` must be an integer >= 1 or "
                    "None. Received: ema_overwrite_frequency="
                    f"{ema_overwrite_frequency}"
                )
        if sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(
                "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can "
                f"be set. Received: clipnorm={clipnorm}, "
                f"clipvalue={clipvalue}, global_clipnorm={global_clipnorm}"
            )
        if n_threads is not None:
            effective_n_threads(n_threads)  # validates now rather than at the first step

        self.name = name
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.global_clipnorm = global_clipnorm
        self.clipvalue = clipvalue
        self.use_ema = use_ema
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self.n_threads = n_threads
        self.built = False

        self._variables = []
        self._variable_names = []
        self._trainable_variables = []
        self._trainable_variables_indices = {}
        self._trainable_names = []
        self._flat = []
        self._all_indices = []
        self._exclude_from_weight_decay = set()
        self._exclude_from_weight_decay_pattern = None
        self._exclusion_version = 0
        self._iterations = self._track(np.zeros((), dtype=np.int64), "iteration")
        self._learning_rate = None
        self._set_learning_rate(learning_rate, initial=True)

    # ------------------------------------------------------------ variables
    def _track(self, array, name):
        self._variables.append(array)
        self._variable_names.append(name)
        return array

    def _untrack(self, array):
        for i, v in enumerate(self._variables):
            if v is array:
                del self._variables[i]
                del self._variable_names[i]
                return

    @property
    def variables(self):
        """The optimizer's state as a list of numpy arrays, in Keras' order.

        ``iterations`` (0-d int64), then ``learning_rate`` (0-d float32; only
        when it is a float), then, once built: the EMA averages (``use_ema``),
        the gradient accumulators (``gradient_accumulation_steps``), then the
        optimizer's slots, one variable after another (for Adam: kernel
        momentum, kernel velocity, bias momentum, bias velocity, ...). This is
        the order of ``optimizer/vars/0..N`` in a ``.keras`` file. The arrays
        are the live state: writing into them changes the optimizer.
        """
        return self._variables[:]

    @property
    def variable_names(self):
        """Keras' ``v.name`` of each entry of :attr:`variables` (e.g. ``"kernel_momentum"``)."""
        return self._variable_names[:]

    @property
    def iterations(self):
        """Number of steps taken, as an int (divided by `gradient_accumulation_steps` if set)."""
        it = int(self._iterations)
        if self.gradient_accumulation_steps:
            return it // self.gradient_accumulation_steps
        return it

    def _var_key(self, variable):
        return id(variable)

    def _get_variable_index(self, variable):
        return self._trainable_variables_indices[self._var_key(variable)]

    @staticmethod
    def _check_variable(v, i):
        if not isinstance(v, np.ndarray):
            raise TypeError(
                "Argument `variables` must hold numpy arrays (weights updated in place). "
                f"Received: variables[{i}] of type {type(v).__name__}"
            )
        if v.dtype not in _FLOAT_DTYPES:
            raise TypeError(
                "Argument `variables` must hold float32 or float64 arrays. "
                f"Received: variables[{i}] of dtype {v.dtype}"
            )
        if not v.flags.c_contiguous or not v.flags.writeable:
            raise ValueError(
                "Argument `variables` must hold C-contiguous, writeable arrays (they are "
                f"updated in place). Received: variables[{i}] with flags "
                f"c_contiguous={v.flags.c_contiguous}, writeable={v.flags.writeable}"
            )

    def build(self, variables, names=None):
        """Create the optimizer's state for `variables` (does nothing if already built).

        Parameters
        ----------
        variables : list of ndarray
            The trainable weights: C-contiguous, writeable float32 or float64 arrays,
            updated in place by every step (each slot has its variable's dtype).
        names : list of str, optional
            densekit's addition: each variable's Keras path (``"dense/kernel"``),
            giving the slots Keras' names (``"dense_kernel_momentum"``) and the
            names that ``exclude_from_weight_decay(var_names=...)`` searches (the
            last path component, Keras' ``variable.name``). Default:
            ``"variable_0"``, ``"variable_1"``, ...

        Raises
        ------
        TypeError
            For a non-array or a dtype other than float32/float64.
        ValueError
            For a non-contiguous or read-only array, or names of the wrong length.
        """
        if self.built:
            return
        variables = list(variables)
        for i, v in enumerate(variables):
            self._check_variable(v, i)
        # The step updates all variables in one parallel pass: none may share memory.
        for i, v in enumerate(variables):
            for j in range(i):
                if np.may_share_memory(v, variables[j]):
                    raise ValueError(
                        "Argument `variables` must hold arrays that do not share memory. "
                        f"Received: variables[{j}] and variables[{i}] overlap"
                    )
        if names is None:
            names = [f"variable_{i}" for i in range(len(variables))]
        else:
            names = list(names)
            if len(names) != len(variables) or not all(isinstance(n, str) for n in names):
                raise ValueError(
                    "Argument `names` must be a list of strings, one per variable. "
                    f"Received: names={names!r} for {len(variables)} variables"
                )
        self._trainable_names = names
        if self.use_ema:
            self._model_variables_moving_average = self.add_optimizer_variables(
                variables, "average")
        if self.gradient_accumulation_steps:
            self._accumulated_gradients = self.add_optimizer_variables(
                variables, "gradient_accumulator")
        self._trainable_variables_indices = {}
        for i, v in enumerate(variables):
            self._trainable_variables_indices[self._var_key(v)] = i
        self._trainable_variables = variables
        self._flat = variables  # the kernels only need C-contiguous data and a size
        self._build_slots(variables)
        per_var = [self._slot_arrays(i) for i in range(len(variables))]
        self._slots = [[p[k] for p in per_var] for k in range(3)]
        self._prep = np.zeros((len(variables), 5))
        self._clipped = False
        self._decay_key = None
        self._dtypes = sorted({v.dtype for v in variables}, key=str)
        self._size = sum(v.size for v in variables)
        self._all_indices = list(range(len(variables)))
        self.built = True

    def _build_slots(self, variables):
        """Subclasses create their slots here (after the base slots, as Keras does)."""

    def add_optimizer_variables(self, trainable_variables, name, initializer=0.0):
        """Zero (or `initializer`-filled) slots like each variable, in Keras' order.

        `name` is a str (one list is returned) or a list of str (a tuple of
        lists); slots are created one variable after another, each with all of
        its names, which is the order Keras records them in.
        """
        names = [name] if isinstance(name, str) else list(name)
        out = tuple([] for _ in names)
        for i, v in enumerate(trainable_variables):
            path = self._trainable_names[i] if i < len(self._trainable_names) else "variable"
            for k, slot in enumerate(names):
                arr = np.full(v.shape, initializer, dtype=v.dtype)
                self._track(arr, f"{path.replace('/', '_')}_{slot}")
                out[k].append(arr)
        return out[0] if isinstance(name, str) else out

    # -------------------------------------------------------- learning rate
    def _set_learning_rate(self, learning_rate, initial=False):
        if isinstance(learning_rate, LearningRateSchedule) or callable(learning_rate):
            if isinstance(self._learning_rate, np.ndarray):
                self._untrack(self._learning_rate)
            self._learning_rate = learning_rate
            return
        if initial:
            if not isinstance(learning_rate, float):
                raise ValueError(
                    "Argument `learning_rate` should be float, or an instance "
                    "of LearningRateSchedule, or a callable "
                    "(that takes in the current iteration value "
                    "and returns the corresponding learning rate value). "
                    f"Received instead: learning_rate={learning_rate}"
                )
            self._learning_rate = self._track(
                np.array(learning_rate, dtype=np.float32), "learning_rate")
            return
        if not isinstance(self._learning_rate, np.ndarray):
            raise TypeError(
                "This optimizer was created with a `LearningRateSchedule`"
                " object as its `learning_rate` constructor argument, "
                "hence its learning rate is not settable. If you need the"
                " learning rate to be settable, you should instantiate "
                "the optimizer with a float `learning_rate` argument."
            )
        _check_real("learning_rate", learning_rate)
        self._learning_rate[...] = learning_rate

    @property
    def learning_rate(self):
        """The current learning rate (a float32 numpy scalar for a float).

        With a schedule, the schedule's value at the current iteration count;
        with a callable, its return value. Setting it to a float assigns the
        stored float32 value; setting a schedule or callable replaces it (and
        drops ``learning_rate`` from :attr:`variables`).
        """
        return self._current_learning_rate()

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        self._set_learning_rate(learning_rate)

    def _current_learning_rate(self):
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            return lr(int(self._iterations))
        if isinstance(lr, np.ndarray):
            return lr[()]
        return lr()

    # --------------------------------------------------------- weight decay
    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Exclude variables from weight decay.

        Parameters
        ----------
        var_list : list of ndarray, optional
            Variables (the very arrays given to :meth:`build`) to exclude.
        var_names : list of str, optional
            Regular-expression fragments; a variable whose name (the last
            component of its `names` entry in :meth:`build`) contains any of
            them is excluded, e.g. ``var_names=["bias"]``.

        Notes
        -----
        As in Keras, each call replaces the previous exclusions.
        """
        self._exclude_from_weight_decay = set(self._var_key(v) for v in (var_list or []))
        if var_names and len(var_names) > 0:
            self._exclude_from_weight_decay_pattern = re.compile("|".join(set(var_names)))
        else:
            self._exclude_from_weight_decay_pattern = None
        self._exclusion_version += 1

    def _use_weight_decay(self, index):
        if self._var_key(self._trainable_variables[index]) in self._exclude_from_weight_decay:
            return False
        pattern = self._exclude_from_weight_decay_pattern
        if pattern is not None:
            name = self._trainable_names[index].rsplit("/", 1)[-1]
            if re.search(pattern, name) is not None:
                return False
        return True

    # ---------------------------------------------------------------- steps
    def apply_gradients(self, grads_and_vars):
        """Apply ``(gradient, variable)`` pairs; returns :attr:`iterations`'s array."""
        grads, trainable_variables = zip(*grads_and_vars)
        self.apply(grads, trainable_variables)
        return self._iterations

    def apply(self, grads, trainable_variables=None):
        """Update the variables in place by one step of the optimizer.

        Parameters
        ----------
        grads : list of array_like or None
            One gradient per variable, of the variable's shape (cast to its
            dtype). None entries are skipped with a warning, as in Keras.
        trainable_variables : list of ndarray, optional
            The variables; on the first call they build the optimizer. If None,
            the optimizer must be built and `grads` matches its variables 1:1.

        Raises
        ------
        ValueError
            Keras' messages for an unbuilt optimizer without variables, a
            length mismatch, an unknown variable or no gradients at all; and
            for a gradient whose shape differs from its variable's. Nothing is
            modified when an error is raised.
        """
        grads = list(grads)
        if len(grads) == 0:
            return
        if trainable_variables is None:
            if not self.built:
                raise ValueError(
                    "When passing `grads` without `variables`, the optimizer "
                    "must already be built on a list of variables. "
                    "Call `optimizer.build(trainable_variables)` first. "
                )
            if len(grads) != len(self._trainable_variables_indices):
                raise ValueError(
                    "When passing `grads` as a list of gradient tensors, the "
                    f"gradients must match `optimizer.variables` one-to-on. "
                    f"Received a list of {len(grads)} gradients, but the "
                    f"optimizer is tracking {len(self._trainable_variables)} "
                    "trainable variables."
                )
            trainable_variables = self._trainable_variables
        else:
            trainable_variables = list(trainable_variables)
            if len(trainable_variables) != len(grads):
                raise ValueError(
                    "Arguments `grads` and `trainable_variables` must have the same "
                    f"length. Received: {len(grads)} gradients and "
                    f"{len(trainable_variables)} variables"
                )
            if not self.built:
                self.build(trainable_variables)
            for v in trainable_variables:
                if self._var_key(v) not in self._trainable_variables_indices:
                    raise ValueError(
                        f"Unknown variable: {v}. This optimizer can only "
                        "be called for the variables it was originally built with. "
                        "When working with a new set of variables, you should "
                        "recreate a new optimizer instance."
                    )

        if any(g is None for g in grads):
            pairs = [(g, v) for g, v in zip(grads, trainable_variables) if g is not None]
            if not pairs:
                raise ValueError("No gradients provided for any variable.")
            missing = [self._trainable_names[self._get_variable_index(v)]
                       for g, v in zip(grads, trainable_variables) if g is None]
            warnings.warn(
                "Gradients do not exist for variables "
                f"{missing} when minimizing the loss."
                " If using `model.compile()`, did you forget to provide a "
                "`loss` argument?",
                stacklevel=2,
            )
            grads = [g for g, _ in pairs]
            trainable_variables = [v for _, v in pairs]
        if trainable_variables is self._trainable_variables:
            indices = self._all_indices
        else:
            indices = [self._get_variable_index(v) for v in trainable_variables]
            if indices == self._all_indices:
                indices = self._all_indices
            elif len(set(indices)) != len(indices):
                raise ValueError(
                    "Argument `trainable_variables` must not repeat a variable. "
                    f"Received the variables of indices {indices}"
                )
            elif indices != sorted(indices):
                order = sorted(range(len(indices)), key=indices.__getitem__)
                indices = [indices[k] for k in order]
                grads = [grads[k] for k in order]
                trainable_variables = [trainable_variables[k] for k in order]
        check = self._check_grad
        self._apply_checked(indices, [check(g, v) for g, v in zip(grads, trainable_variables)])

    def _apply_checked(self, indices, grads):
        """One step for validated gradients: ``grads[j]`` is C-contiguous, of the shape
        and dtype of variable ``indices[j]`` and shares no memory with the variables
        or the optimizer's state, and `indices` is ascending without repeats.

        This is what :meth:`apply` runs after its checks; a trainer holding its own
        gradient buffers may call it directly with ``indices=optimizer._all_indices``.
        """
        if self.loss_scale_factor is not None:
            grads = [g / g.dtype.type(self.loss_scale_factor) for g in grads]
        # Threads by work size (threads_for): a small update stays on the calling
        # thread rather than wake a team beside the BLAS threads of the next step.
        n_threads = threads_for(_UPDATE_FLOPS * self._size, self.n_threads)
        if self.gradient_accumulation_steps:
            steps = self.gradient_accumulation_steps
            accs = [self._accumulated_gradients[i] for i in indices]
            if (int(self._iterations) + 1) % steps == 0:
                grads = [(g + a) / g.dtype.type(steps) for g, a in zip(grads, accs)]
                for a in accs:
                    a[...] = 0
                self._update_step(indices, grads, n_threads)
            else:
                for g, a in zip(grads, accs):
                    np.add(a, g, out=a)
        else:
            self._update_step(indices, grads, n_threads)
        if self.use_ema:
            self._update_moving_average()
        self._iterations += 1

    @staticmethod
    def _check_grad(g, v):
        """`g` as a C-contiguous array of `v`'s dtype and shape (itself when it already is)."""
        if (type(g) is np.ndarray and g.dtype == v.dtype and g.shape == v.shape
                and g.flags.c_contiguous):
            # A gradient sharing memory with its variable would see the weight decay.
            return g.copy() if np.may_share_memory(g, v) else g
        g = np.asarray(g)
        if g.dtype.kind not in "fiub":
            raise TypeError(
                "Argument `grads` must hold real numeric arrays. "
                f"Received: a gradient of dtype {g.dtype}"
            )
        if g.shape != v.shape:
            raise ValueError(
                "Argument `grads` must match the variables' shapes. Received: a "
                f"gradient of shape {g.shape} for a variable of shape {v.shape}"
            )
        return np.ascontiguousarray(g, dtype=v.dtype)

    def _clip_columns(self, prep, flat_grads, n_threads):
        """Fill columns 0-2 of `prep` (clip code, a, b) in each gradient's dtype."""
        if self.clipnorm and self.clipnorm > 0:
            sq = np.empty(len(flat_grads))
            _k.sumsq(flat_grads, sq, n_threads)
            with np.errstate(all="ignore"):
                for row, g, s in zip(prep, flat_grads, sq.tolist()):
                    t = g.dtype.type
                    s = t(s)
                    norm = np.sqrt(s) if s > 0 else s
                    c = t(self.clipnorm)
                    row[0:3] = (_k.CLIP_SCALE_DIV, c, np.maximum(norm, c))
        elif self.global_clipnorm and self.global_clipnorm > 0:
            sq = np.empty(len(flat_grads))
            _k.sumsq(flat_grads, sq, n_threads)
            t = np.result_type(*[g.dtype for g in flat_grads]).type
            with np.errstate(all="ignore"):
                total = t(0)
                for s in sq.tolist():
                    total = total + t(s)
                norm = np.sqrt(total)
                c = t(self.global_clipnorm)
                scale = c * np.minimum(t(1.0) / norm, t(1.0) / c)
                scale = scale + (norm - norm)
            for row, g in zip(prep, flat_grads):
                row[0:3] = (_k.CLIP_SCALE, g.dtype.type(scale), 0.0)
        elif self.clipvalue and self.clipvalue > 0:
            for row, g in zip(prep, flat_grads):
                row[0:3] = (_k.CLIP_VALUE, g.dtype.type(self.clipvalue), 0.0)
        elif self._clipped or prep is not self._prep:
            prep[:, 0:3] = 0.0
        self._clipped = prep is self._prep and (
            bool(self.clipnorm and self.clipnorm > 0)
            or bool(self.global_clipnorm and self.global_clipnorm > 0)
            or bool(self.clipvalue and self.clipvalue > 0))

    def _decay_columns(self):
        """Columns 3-4 of the step table (decay flag, weight_decay in the variable's dtype);
        recomputed only when weight_decay or the exclusions change."""
        key = (self.weight_decay, self._exclusion_version)
        if key != self._decay_key:
            for i, (row, w) in enumerate(zip(self._prep, self._flat)):
                if self.weight_decay is not None and self._use_weight_decay(i):
                    row[3:5] = (1.0, w.dtype.type(self.weight_decay))
                else:
                    row[3:5] = (0.0, 0.0)
            self._decay_key = key

    def _update_step(self, indices, flat_grads, n_threads):
        """Clip, decay and update all (variable, gradient) pairs in one kernel call."""
        self._decay_columns()
        if len(indices) == len(self._flat):
            prep = self._prep
            weights, slots = self._flat, self._slots
        else:
            prep = self._prep[indices]
            weights = [self._flat[i] for i in indices]
            slots = [[s[i] for i in indices] for s in self._slots]
        self._clip_columns(prep, flat_grads, n_threads)
        lr = float(self._current_learning_rate())
        self._before_update()
        k32 = k64 = _NO_SCALARS
        for dtype in self._dtypes:
            r = _sc.rounder(dtype)
            lr_t = r(lr)
            values = (lr_t,) + tuple(self._step_scalars(r, lr_t))
            if dtype.itemsize == 4:
                k32 = values
            else:
                k64 = values
        _k.step(self._KIND, weights, flat_grads, slots[0], slots[1], slots[2], prep, k32, k64,
                n_threads)

    def _before_update(self):
        """Hook run once per real update step, before the variables are updated."""

    _KIND = None

    def _step_scalars(self, r, lr):
        """Subclasses: the rule's scalars after lr (see ``_optimizers.step``) as floats,
        each operation rounded by `r` (``_scalars.rounder`` of the dtype) as Keras
        rounds it; `lr` is already rounded."""
        return ()

    def _slot_arrays(self, index):
        """Subclasses: the (slot0, slot1, slot2) arrays of variable `index` (None if absent)."""
        return (None, None, None)

    def _update_moving_average(self):
        not_first = self.iterations != 0
        for var, avg in zip(self._trainable_variables, self._model_variables_moving_average):
            t = var.dtype.type
            m = t(float(not_first) * t(self.ema_momentum))
            tmp = (t(1) - m) * var
            np.multiply(avg, m, out=avg)
            np.add(avg, tmp, out=avg)
        if self.ema_overwrite_frequency:
            if (self.iterations + 1) % self.ema_overwrite_frequency == 0:
                self._overwrite_with_average(self._trainable_variables)

    def _overwrite_with_average(self, var_list):
        if len(var_list) != len(self._model_variables_moving_average):
            raise ValueError(
                f"The length of model variables ({len(var_list)}) "
                "to override does not match the length of model variables "
                "stored in the optimizer "
                f"({len(self._model_variables_moving_average)}). Please "
                "check if the optimizer was called on your model."
            )
        for var, avg in zip(var_list, self._model_variables_moving_average):
            var[...] = avg

    def finalize_variable_values(self, var_list):
        """With ``use_ema``, overwrite `var_list` (the built variables) with their averages."""
        if self.use_ema:
            self._overwrite_with_average(var_list)

    def scale_loss(self, loss):
        """``loss * loss_scale_factor`` (the loss itself when it is None)."""
        if self.loss_scale_factor is not None:
            return loss * self.loss_scale_factor
        return loss

    # ---------------------------------------------------------------- state
    def set_weights(self, weights):
        """Assign `weights` (arrays in :attr:`variables`' order) to the state."""
        if not self.built:
            raise ValueError(
                "You are calling `set_weights()` on an optimizer that has not "
                "yet been built. Please call "
                "`optimizer.build(trainable_variables)` to create the "
                "optimizer weights before calling `set_weights()`."
            )
        weights = [np.asarray(w) for w in weights]
        for i, (variable, weight) in enumerate(zip(self._variables, weights)):
            if variable.shape != weight.shape:
                raise ValueError(
                    f"Optimizer variable {self._variable_names[i]} has shape "
                    f"{variable.shape} not compatible with provided "
                    f"weight shape {weight.shape}."
                )
        for variable, weight in zip(self._variables, weights):
            variable[...] = weight

    def save_own_variables(self, store):
        """Write the state into `store` (a dict-like) as ``store["0"], store["1"], ...``."""
        for i, variable in enumerate(self._variables):
            store[str(i)] = variable.copy()

    def load_own_variables(self, store):
        """Read :meth:`save_own_variables`' entries back (Keras' warning on a count mismatch)."""
        if len(store.keys()) != len(self._variables):
            msg = (
                f"Skipping variable loading for optimizer '{self.name}', "
                f"because it has {len(self._variables)} variables whereas "
                f"the saved optimizer has {len(store.keys())} variables. "
            )
            if len(self._variables) == 0:
                msg += "This is likely because the optimizer has not been called/built yet."
            warnings.warn(msg, stacklevel=2)
            return
        for i, variable in enumerate(self._variables):
            variable[...] = np.asarray(store[str(i)])

    def get_config(self):
        """Keras' optimizer config (the learning rate as stored: float32 value or schedule)."""
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            learning_rate = _schedules.serialize(lr)
        elif isinstance(lr, np.ndarray):
            learning_rate = float(lr)
        else:
            learning_rate = lr
        return {
            "name": self.name,
            "learning_rate": learning_rate,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            "use_ema": self.use_ema,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": self.loss_scale_factor,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Rebuild from :meth:`get_config` (a schedule dict is deserialized)."""
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = _schedules.deserialize(
                config["learning_rate"], custom_objects=custom_objects)
        return cls(**config)

    def __repr__(self):
        return f"<{self.__class__.__name__} name={self.name!r} built={self.built}>"
