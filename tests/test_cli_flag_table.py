"""Every flag of every `dgflow-tf` command is named by a test (`@pytest.mark.cli_flag`).

A new flag without a test fails here; `python benchmarks/cli_flags.py` runs those tests and writes
the table of flags, tests and results.
"""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_every_flag_of_every_command_has_a_test():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "cli_flags.py"), "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    summary = result.stdout.strip().splitlines()[-1]
    assert result.returncode == 0, summary
    assert summary.endswith("no test names 0: none"), summary
