"""The docs' command-line reference (docs/cli.md) is what `dgflow-tf COMMAND --help` prints.

The page is the reviewed text of every command's help: a flag, default or description that
changes in the parser without the page fails here. After an intended change, rewrite the page:

    DGFLOW_TF_WRITE_CLI_REFERENCE=1 python -m pytest tests/test_cli_reference.py
"""

import os
import sys
from pathlib import Path

import pytest

from dgflow_tf.cli.app import build_parser

PAGE = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
WIDTH = 100  # argparse wraps at the terminal's width: the page is written at 100 columns

INTRO = """# Command-line reference

`pip install dgflow-tf` installs the `dgflow-tf` command (also `python -m dgflow_tf.cli`). Each
section below is the command's `--help`, exactly as it prints at 100 columns; `tests/test_cli_reference.py`
fails when the two differ. The guides show the commands at work:
[export and the command line](guides/export-serving.md),
[streaming](guides/streaming-distributed.md) and
[choosing the step size](guides/choosing-step-size.md). Errors and exit codes are on
[their own page](errors.md).
"""


def _commands(parser):
    (subparsers,) = [action for action in parser._actions if action.choices and action.dest == "command"]
    return subparsers.choices


def render():
    parser = build_parser()
    sections = [INTRO, "## dgflow-tf", "", "```text", parser.format_help().rstrip(), "```", ""]
    for name, command in _commands(parser).items():
        sections += [f"## {name}", "", "```text", command.format_help().rstrip(), "```", ""]
    return "\n".join(sections)


@pytest.mark.skipif(
    sys.version_info[:2] != (3, 11),
    reason="argparse lays help out differently in other Python versions; the page is written with 3.11",
)
def test_the_cli_reference_page_is_every_commands_help(monkeypatch):
    monkeypatch.setenv("COLUMNS", str(WIDTH))
    text = render()
    if os.environ.get("DGFLOW_TF_WRITE_CLI_REFERENCE") == "1":
        PAGE.write_text(text, encoding="utf-8")
    assert PAGE.read_text(encoding="utf-8") == text, (
        "docs/cli.md differs from the parser's --help; if the change is intended, rewrite it with "
        "DGFLOW_TF_WRITE_CLI_REFERENCE=1 python -m pytest tests/test_cli_reference.py"
    )


def test_every_command_has_a_section_on_the_page():
    page = PAGE.read_text(encoding="utf-8")
    for name in _commands(build_parser()):
        assert f"\n## {name}\n" in page, name
        assert f"usage: dgflow-tf {name} " in page, name
