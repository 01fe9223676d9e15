"""The `dgflow-tf` entry point (`dgflow_tf.cli.app`): quiet TensorFlow, one-line errors, exit codes."""

import io
import os
import subprocess
import sys

import pytest

from dgflow_tf import cli
from dgflow_tf.cli import evaluate
from dgflow_tf.cli.app import _quiet_log_level


def _fails_with(error, monkeypatch):
    def handler(args, out):
        raise error

    monkeypatch.setattr(evaluate, "run_evaluate", handler)


def test_tensorflow_is_quiet_by_default_and_speaks_with_verbose(tmp_path):
    # In a fresh interpreter: TensorFlow's C++ lines (oneDNN, CPU features, CUDA probes) are hidden
    # unless --verbose.
    environment = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    command = [sys.executable, "-m", "dgflow_tf.cli"]
    # From another directory: the installed package, as users run it.
    quiet = subprocess.run(
        [*command, "gaussian-demo", "--help"], env=environment, capture_output=True, text=True, cwd=tmp_path
    )
    assert quiet.returncode == 0 and "usage: dgflow-tf gaussian-demo" in quiet.stdout
    assert quiet.stderr == ""
    # Running ops too (TensorFlow probes for GPUs at the first one, and logs what it finds).
    run = [*command, "gaussian-demo", "--num-samples", "50", "--num-steps", "2"]
    quiet = subprocess.run(run, env=environment, capture_output=True, text=True, cwd=tmp_path)
    assert quiet.returncode == 0 and quiet.stderr == ""
    verbose = subprocess.run(
        [*command, "--verbose", "gaussian-demo", "--help"],
        env=environment,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert verbose.returncode == 0 and ".cc:" in verbose.stderr  # TensorFlow's own log lines
    # The same entry point inside a program that imported TensorFlow leaves its environment alone.
    with pytest.raises(SystemExit):
        cli.main(["gaussian-demo", "--help"], out=io.StringIO())


def test_the_log_level_is_raised_to_errors_only_unless_the_user_chose_one():
    environment = {}
    _quiet_log_level(environment)
    assert environment == {"TF_CPP_MIN_LOG_LEVEL": "3"}
    chosen = {"TF_CPP_MIN_LOG_LEVEL": "0"}
    _quiet_log_level(chosen)
    assert chosen == {"TF_CPP_MIN_LOG_LEVEL": "0"}


def test_a_program_that_imported_tensorflow_keeps_its_log_settings(monkeypatch, capsys):
    import tensorflow  # noqa: F401 - the calling program's own import

    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    with pytest.raises(SystemExit):
        cli.main(["gaussian-demo", "--help"], out=io.StringIO())
    assert "TF_CPP_MIN_LOG_LEVEL" not in os.environ


def test_a_command_is_required(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([], out=io.StringIO())
    assert exit_info.value.code == 2
    assert "the following arguments are required: COMMAND" in capsys.readouterr().err


def test_errors_are_one_line_naming_the_command_unless_debug(monkeypatch, capsys, tmp_path):
    _fails_with(ValueError("bad\n   input"), monkeypatch)
    assert cli.main(["evaluate", tmp_path / "x.npy"], out=io.StringIO()) == 2
    assert capsys.readouterr().err == "dgflow-tf evaluate: error: bad input (--debug shows the traceback)\n"
    _fails_with(RuntimeError(), monkeypatch)  # no message: the error's class is named
    assert cli.main(["evaluate", tmp_path / "x.npy"], out=io.StringIO()) == 1
    assert capsys.readouterr().err.startswith("dgflow-tf evaluate: error: RuntimeError (")
    with pytest.raises(RuntimeError):
        cli.main(["--debug", "evaluate", tmp_path / "x.npy"], out=io.StringIO())
    monkeypatch.setenv("DGFLOW_TF_DEBUG", "1")
    with pytest.raises(RuntimeError):
        cli.main(["evaluate", tmp_path / "x.npy"], out=io.StringIO())


def test_ctrl_c_is_one_line_on_stderr_and_exit_130(monkeypatch, capsys, tmp_path):
    _fails_with(KeyboardInterrupt(), monkeypatch)
    out = io.StringIO()
    assert cli.main(["evaluate", tmp_path / "x.npy"], out=out) == 130
    assert out.getvalue() == "" and capsys.readouterr().err == "dgflow-tf evaluate: interrupted\n"
