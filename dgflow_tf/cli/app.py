"""The `dgflow-tf` parser and entry point.

Exit codes: 0 for success; 2 for usage and input errors (a bad flag, a missing or unreadable input
file, a bad value, an output path that cannot be a directory); 1 for failures while running (a
sample that turned NaN or Inf, a directory another process is writing, a full disk or another
operating-system error); 130 for Ctrl-C. Every error ends in one line on stderr,
`dgflow-tf COMMAND: error: ...`; `--debug` (or `DGFLOW_TF_DEBUG=1`) shows the traceback instead.

Quiet by default: TensorFlow's C++ log level is raised to 3 before it is
imported (unless `TF_CPP_MIN_LOG_LEVEL` is set), and the lines its import
writes straight to the process's stderr (CUDA probes on a machine without a
GPU) are dropped. `--verbose` leaves both alone.
"""

import argparse
import contextlib
import os
import sys

from dgflow_tf.cli import demo, evaluate, refine


@contextlib.contextmanager
def _stderr_dropped():
    """Points file descriptor 2 at /dev/null (C++ code writes there, past Python's sys.stderr)."""
    sys.stderr.flush()
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def _quiet_log_level(environment):
    """Raises TensorFlow's C++ log level to errors only in `environment`, unless the user set one."""
    environment.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _import_tensorflow(verbose):
    if verbose or "tensorflow" in sys.modules:
        return
    _quiet_log_level(os.environ)
    with _stderr_dropped():
        import tensorflow  # noqa: F401


def build_parser():
    """The argument parser of `dgflow-tf` (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="dgflow-tf",
        description="Refine generative models' samples with Discriminator Gradient flow (DGflow).",
    )
    parser.add_argument(
        "--verbose", action="store_true", help="show TensorFlow's own log lines (hidden by default)"
    )
    parser.add_argument("--debug", action="store_true", help="show the Python traceback of an error")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    refine.register(commands)
    evaluate.register(commands)
    demo.register(commands)
    return parser


EXIT_RUNTIME, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


def exit_code(error):
    """The exit code of an error (see the module docstring)."""
    from dgflow_tf.storage import DirectoryLockedError

    if isinstance(error, DirectoryLockedError):
        return EXIT_RUNTIME
    if isinstance(error, (FileNotFoundError, NotADirectoryError, IsADirectoryError, FileExistsError)):
        return EXIT_USAGE
    if isinstance(error, (ValueError, TypeError, KeyError, ImportError)) and not isinstance(
        error, FloatingPointError
    ):
        return EXIT_USAGE
    return EXIT_RUNTIME


def main(argv=None, out=None):
    """Entry point of `dgflow-tf`; returns the process exit code."""
    argv = sys.argv[1:] if argv is None else [str(arg) for arg in argv]
    debug = "--debug" in argv or os.environ.get("DGFLOW_TF_DEBUG") == "1"
    _import_tensorflow(verbose="--verbose" in argv)
    args = build_parser().parse_args(argv)  # usage errors: argparse's message, exit 2
    try:
        return args.handler(args, out or sys.stdout)
    except KeyboardInterrupt:
        print(f"dgflow-tf {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:  # noqa: BLE001 - one line for every error, the traceback on request
        if debug:
            raise
        # One line: TensorFlow's multi-line messages ("in user code: ...") are joined, not cut.
        message = " ".join(str(error).split()) or type(error).__name__
        print(f"dgflow-tf {args.command}: error: {message} (--debug shows the traceback)", file=sys.stderr)
        return exit_code(error)
