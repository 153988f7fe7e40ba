"""The `densekit` command line: `densekit info`, `densekit demo`."""

import argparse
import platform
import sys


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line in one line, with exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _blas_summary():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (install threadpoolctl to see it)"
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
    from densekit._lib import _build_info, _openmp

    omp = _openmp.openmp_version()
    return [
        f"densekit {densekit.__version__}",
        f"python: {platform.python_version()} ({platform.machine()}, {platform.system()})",
        f"compiler: {_build_info.COMPILER}, buildtype {_build_info.BUILDTYPE}, "
        f"-O{_build_info.OPTIMIZATION}, extra flags: {_build_info.C_ARGS or '(none)'}",
        f"openmp: {'enabled, version ' + str(omp) if omp else 'disabled (single thread)'}",
        f"threads: {densekit.get_num_threads()}",
        f"simd: {_openmp.simd_level()} (chosen at run time)",
        f"numpy: {numpy.__version__}",
        f"scipy: {scipy.__version__}",
        f"blas: {_blas_summary()}",
    ]


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


def _cmd_demo(args):
    from densekit import _demo

    return _demo.run(size=args.size, n_threads=args.threads, repeat=args.repeat)


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
        "--threads", type=_positive_int, default=None,
        help="number of threads (default: densekit.get_num_threads())",
    )
    demo.add_argument(
        "--repeat", type=_positive_int, default=3,
        help="timed repetitions; the median is reported (default: 3)",
    )
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("densekit: interrupted", file=sys.stderr)
        return 130
