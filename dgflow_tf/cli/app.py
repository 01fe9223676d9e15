"""The `dgflow-tf` parser and entry point.

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


def _import_tensorflow(verbose):
    if verbose or "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
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
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    refine.register(commands)
    evaluate.register(commands)
    demo.register(commands)
    return parser


def main(argv=None, out=None):
    """Entry point of `dgflow-tf`; returns the process exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    _import_tensorflow(verbose="--verbose" in argv)
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args, out or sys.stdout)
    except (FileNotFoundError, ValueError, TypeError, KeyError, FloatingPointError) as error:
        # Bad input: the message names the argument and the fix; a traceback adds nothing.
        print(f"dgflow-tf {args.command}: error: {error}", file=sys.stderr)
        return 2
