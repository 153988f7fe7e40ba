"""The `densekit` command line: `densekit info`, `densekit demo`."""

import argparse
import platform
import signal
import sys
import threading


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line in one line, with exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _blas_summary():
    from threadpoolctl import threadpool_info

    blas = [
        f"{i.get('internal_api')} {i.get('version')} ({i.get('num_threads')} threads)"
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    ]
    return ", ".join(blas) or "none loaded"


def info_lines():
    """The lines `densekit info` prints: build, OpenMP, threads, SIMD, dependencies."""
    import numpy
    import scipy
    import scipy.linalg  # noqa: F401 - loads BLAS so threadpoolctl can see it

    import densekit
    from densekit._lib import _build_info, _openmp, _random

    omp = _openmp.openmp_version()
    return [
        f"densekit {densekit.__version__}",
        f"python: {platform.python_version()} ({platform.machine()}, {platform.system()})",
        f"compiler: {_build_info.COMPILER}, buildtype {_build_info.BUILDTYPE}, "
        f"-O{_build_info.OPTIMIZATION}, extra flags: {_build_info.C_ARGS or '(none)'}",
        f"openmp: {'enabled, version ' + str(omp) if omp else 'disabled (single thread)'}",
        f"threads: {densekit.get_num_threads()}",
        f"simd: {_random.simd_level()} (the samplers' path, chosen at run time; "
        f"CPU supports {_openmp.simd_level()})",
        f"dense float32 product: {_dense_product()}",
        f"numpy: {numpy.__version__}",
        f"scipy: {scipy.__version__}",
        f"blas: {_blas_summary()}",
    ]


def _dense_product():
    from densekit._lib import _dense

    level = {3: "avx512", 2: "avx2"}.get(_dense.FMA_LEVEL)
    if level is None:
        return "numpy's BLAS (this CPU has no FMA)"
    return f"densekit FMA ({level}; the same bits for any batch and thread count)"


def _cmd_info(args):
    for line in info_lines():
        print(line)
    return 0


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _thread_count(text):
    """--threads: a positive integer densekit accepts, checked before any work."""
    from densekit._threads import effective_n_threads

    value = _positive_int(text)
    try:
        effective_n_threads(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def _cmd_demo(args):
    from densekit import _demo

    return _demo.run(size=args.size, n_threads=args.threads, repeat=args.repeat, width=args.width)


def build_parser():
    parser = _Parser(
        prog="densekit",
        description="densekit: Keras initializers, constraints, regularizers, "
        "activations and Dense layers on a parallel, deterministic core.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    info = sub.add_parser("info", help="show version, build, OpenMP, SIMD and BLAS details")
    info.set_defaults(func=_cmd_info)

    demo = sub.add_parser(
        "demo",
        help="the tour: initialize a large tensor and compare throughput with numpy",
    )
    demo.add_argument(
        "--size", type=_positive_int, default=8192,
        help="side of the square float32 tensor to initialize (default: 8192)",
    )
    demo.add_argument(
        "--width", type=_positive_int, default=8192,
        help="width of the wide model's Dense layers (default: 8192)",
    )
    demo.add_argument(
        "--threads", type=_thread_count, default=None,
        help="number of threads (default: densekit.get_num_threads())",
    )
    demo.add_argument(
        "--repeat", type=_positive_int, default=3,
        help="timed repetitions; the median is reported (default: 3)",
    )
    demo.set_defaults(func=_cmd_demo)
    _add_init_command(sub)
    _add_init_model_command(sub)
    return parser


class _Terminated(BaseException):
    """Raised in the main thread on SIGTERM, so that cleanup (the removal of a
    partial file) runs as for Ctrl-C. A BaseException: `except Exception` lets it by."""


def _raise_terminated(signum, frame):
    raise _Terminated()


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    # `kill` (SIGTERM, what service managers, `timeout` and job schedulers send) is
    # handled like Ctrl-C while a command runs; SIGKILL cannot be, and its leftovers
    # are removed by the next `densekit init` on the same output.
    installed = threading.current_thread() is threading.main_thread()
    if installed:
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("densekit: interrupted", file=sys.stderr)
        return 130
    except _Terminated:
        print("densekit: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    finally:
        if installed:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


# --------------------------------------------------------------------------------------
# `densekit init`: write an initialized tensor to a file (densekit.io.initialize_file)
# --------------------------------------------------------------------------------------
def _nonnegative_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


def _add_init_command(sub):
    init = sub.add_parser(
        "init",
        help="write an initialized tensor (.npy, HDF5 or .safetensors) chunk by chunk, larger "
        "than RAM if need be",
        description="Write NAME(shape) to a .npy file (or 'file.h5:/dataset' with h5py, or "
        "'file.safetensors'), "
        "chunk by chunk, with a progress bar; prints the throughput at the end.",
    )
    init.add_argument(
        "name", metavar="NAME",
        help="initializer: any name densekit.initializers.get accepts (he_normal, "
        "GlorotUniform, ...), or a JSON config {\"class_name\": ..., \"config\": {...}}",
    )
    init.add_argument("--shape", type=_nonnegative_int, nargs="+", required=True,
                      help="tensor shape, e.g. --shape 100000 100000")
    init.add_argument("-o", "--output", required=True,
                      help="output path: name.npy, name.h5, name.h5:/dataset or "
                      "name.safetensors")
    init.add_argument("--seed", type=_nonnegative_int, default=None,
                      help="seed passed to the initializer (default: one drawn at random)")
    init.add_argument("--dtype", default="float32",
                      choices=["float32", "float64", "float16", "bfloat16"],
                      help="element type (default: float32)")
    init.add_argument("--config", default=None,
                      help="JSON object of constructor arguments, e.g. '{\"scale\": 2.0}'")
    init.add_argument("--overwrite", action="store_true", help="replace an existing file")
    init.add_argument("--chunk-mib", type=_positive_int, default=64,
                      help="MiB generated and written per step (default: 64)")
    init.add_argument("--threads", type=_thread_count, default=None,
                      help="number of threads (default: densekit.get_num_threads())")
    init.add_argument("--no-progress", action="store_true", help="do not show the progress bar")
    init.set_defaults(func=_cmd_init)


def _init_error(message, status=2):
    print(f"densekit init: error: {message}", file=sys.stderr)
    return status


def _build_initializer(name, seed, config_text):
    """The initializer NAME with `config` and `seed`; raises ValueError with one line."""
    import json

    from densekit import initializers

    config = {}
    if config_text is not None:
        try:
            config = json.loads(config_text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"--config is not valid JSON ({exc})") from None
        if not isinstance(config, dict):
            raise ValueError(f"--config must be a JSON object, got {config_text!r}")
    if name.lstrip().startswith("{"):
        try:
            spec = json.loads(name)
        except json.JSONDecodeError as exc:
            raise ValueError(f"NAME looks like JSON but is not valid JSON ({exc})") from None
        if not isinstance(spec, dict) or not isinstance(spec.get("class_name"), str):
            raise ValueError("a JSON NAME must be an object with a string 'class_name'")
        config = {**(spec.get("config") or {}), **config}
        name = spec["class_name"]
    if seed is not None:
        config["seed"] = seed
    if name not in initializers.ALL_OBJECTS_DICT:
        raise ValueError(
            f"unknown initializer {name!r} (names: he_normal, HeNormal, glorot_uniform, ...; "
            f"see densekit.initializers.ALL_OBJECTS_DICT)"
        )
    try:
        return initializers.deserialize({"class_name": name, "config": config})
    except (ValueError, TypeError) as exc:
        raise ValueError(f"cannot build {name} from {config}: {_one_line(exc)}") from None


def _one_line(exc):
    # OSError(errno, message) prints as "[Errno N] message": keep the message.
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    lines = text.strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _cmd_init(args):
    import math
    import time

    from densekit import io
    from densekit.initializers._layout import resolve_dtype

    try:
        initializer = _build_initializer(args.name, args.seed, args.config)
    except ValueError as exc:
        return _init_error(str(exc))
    shape = tuple(args.shape)
    start = time.perf_counter()
    try:
        written = io.initialize_file(
            args.output, shape, initializer, args.dtype,
            chunk_bytes=args.chunk_mib * 2**20,
            progress=not args.no_progress,
            overwrite=args.overwrite,
            n_threads=args.threads,
        )
    except (ValueError, TypeError, FileExistsError, FileNotFoundError, IsADirectoryError,
            NotADirectoryError, ImportError) as exc:
        return _init_error(_one_line(exc))
    except OSError as exc:
        # A failure of the device (full disk, I/O error), not of the arguments.
        return _init_error(_one_line(exc), 1)
    seconds = time.perf_counter() - start
    n = math.prod(shape)
    nbytes = n * resolve_dtype(args.dtype).itemsize
    # The seed actually used, so that a run without --seed can be repeated.
    seed = getattr(initializer, "seed", None)
    print(
        f"wrote {written}: {type(initializer).__name__}"
        + (f"(seed={seed})" if isinstance(seed, int) else "")
        + f", shape {shape}, {args.dtype}, {nbytes / 1e9:.3f} GB in {seconds:.2f} s "
        f"({nbytes / 1e9 / max(seconds, 1e-9):.2f} GB/s, {n / max(seconds, 1e-9):.3g} elements/s)"
    )
    return 0


# --------------------------------------------------------------------------------------
# `densekit init-model`: a torch model's seed checkpoint (densekit.torch.save_initialized)
# --------------------------------------------------------------------------------------
def _add_init_model_command(sub):
    cmd = sub.add_parser(
        "init-model",
        help="write a torch model's initial state to safetensors without holding the model",
        description="Build MODEL on torch's meta device (no memory for its weights) and write "
        "what densekit.torch.init_module_ gives it to safetensors, block by block, with a "
        "progress bar (needs torch: pip install 'densekit[torch]').",
    )
    cmd.add_argument(
        "model", metavar="MODEL",
        help="'package.module:factory' (a callable returning an nn.Module, called with "
        "--kwargs under torch.device('meta')), or a .json file of {name: shape}",
    )
    cmd.add_argument("-o", "--output", required=True, help="output path: name.safetensors")
    cmd.add_argument("--seed", type=_nonnegative_int, required=True,
                     help="seed; each parameter's comes from it and the parameter's name")
    cmd.add_argument("--scheme", default="torch", choices=["torch", "normal"],
                     help="torch's reset_parameters distributions (default), or N(0, --std)")
    cmd.add_argument("--std", type=float, default=0.02, help="std of --scheme normal (0.02)")
    cmd.add_argument("--rules", default=None,
                     help="JSON object {name pattern: initializer}, e.g. "
                     "'{\"*.q_proj.weight\": \"xavier_uniform_\"}'")
    cmd.add_argument("--kwargs", default=None, help="JSON object of arguments for the factory")
    cmd.add_argument("--max-shard-size", default=None,
                     help="shard into files of at most this size (e.g. 5GB) with an index")
    cmd.add_argument("--dtype", default=None, choices=["float32", "float64", "float16", "bfloat16"],
                     help="store every floating tensor in this type (default: the model's)")
    cmd.add_argument("--overwrite", action="store_true", help="replace existing files")
    cmd.add_argument("--chunk-mib", type=_positive_int, default=64,
                     help="MiB generated and written per step (default: 64)")
    cmd.add_argument("--threads", type=_positive_int, default=None,
                     help="number of threads (default: densekit.get_num_threads())")
    cmd.add_argument("--no-progress", action="store_true", help="do not show the progress bar")
    cmd.set_defaults(func=_cmd_init_model)


def _model_error(message, status=2):
    print(f"densekit init-model: error: {message}", file=sys.stderr)
    return status


def _json_object(text, option):
    import json

    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{option} is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ValueError(f"{option} must be a JSON object, got {text!r}")
    return value


def _load_model_spec(spec, kwargs):
    """A meta-device module from 'module:factory', or a {name: shape} dict from JSON."""
    import importlib
    import json

    if spec.lower().endswith(".json"):
        try:
            with open(spec, encoding="utf-8") as f:
                shapes = json.load(f)
        except OSError as exc:
            raise ValueError(f"cannot read {spec!r}: {_one_line(exc)}") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"{spec!r} is not valid JSON ({exc})") from None
        if not isinstance(shapes, dict) or not all(
            isinstance(v, list) and all(isinstance(d, int) and d >= 0 for d in v)
            for v in shapes.values()
        ):
            raise ValueError(f"{spec!r} must hold a JSON object {{name: [dims...]}}")
        return {k: tuple(v) for k, v in shapes.items()}
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(f"MODEL must be 'package.module:factory' or a .json file, got {spec!r}")
    import torch

    try:
        factory = importlib.import_module(module_name)
        for part in attr.split("."):
            factory = getattr(factory, part)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot import {spec!r}: {_one_line(exc)}") from None
    if not callable(factory):
        raise ValueError(f"{spec!r} is not callable")
    try:
        with torch.device("meta"):
            model = factory(**(kwargs or {}))
    except Exception as exc:  # the user's factory: report its failure in one line
        raise ValueError(f"{spec}(**{kwargs or {}}) failed: {_one_line(exc)}") from None
    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"{spec!r} returned {type(model).__name__}, not a torch.nn.Module")
    return model


def _cmd_init_model(args):
    import math
    import os
    import time

    try:
        import densekit.torch as dt
    except ImportError as exc:
        return _model_error(_one_line(exc))
    try:
        rules = _json_object(args.rules, "--rules")
        kwargs = _json_object(args.kwargs, "--kwargs")
        model = _load_model_spec(args.model, kwargs)
    except ValueError as exc:
        return _model_error(str(exc))
    start = time.perf_counter()
    try:
        written = dt.save_initialized(
            model, args.output, seed=args.seed, scheme=args.scheme, std=args.std, rules=rules,
            max_shard_size=args.max_shard_size, dtype=args.dtype,
            progress=not args.no_progress, overwrite=args.overwrite,
            chunk_bytes=args.chunk_mib * 2**20, n_threads=args.threads,
        )
    except (ValueError, TypeError, FileExistsError, FileNotFoundError, IsADirectoryError,
            NotADirectoryError, ImportError) as exc:
        return _model_error(_one_line(exc))
    except OSError as exc:
        return _model_error(_one_line(exc), 1)
    seconds = time.perf_counter() - start
    nbytes = sum(os.path.getsize(p) for p in written if p.endswith(".safetensors"))
    if isinstance(model, dict):
        n = sum(math.prod(s) for s in model.values())
    else:
        n = sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
    files = written[0] if len(written) == 1 else f"{len(written)} files ({written[-1]})"
    print(
        f"wrote {files}: {n} parameters (seed={args.seed}, scheme={args.scheme}), "
        f"{nbytes / 1e9:.3f} GB in {seconds:.2f} s ({nbytes / 1e9 / max(seconds, 1e-9):.2f} GB/s)"
    )
    return 0
