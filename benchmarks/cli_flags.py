"""Every flag of the command line, the tests that check it, and whether they pass.

Tests name the flags they check against the library with `@pytest.mark.cli_flag(command, *flags)`.
This lists every flag of every `dgflow-tf` command from the parser itself, runs the marked tests,
and writes a table: flag, tests, result. A flag that no test names is listed as such; `--check`
only collects the tests (no run) and exits 1 if any flag has none, which the test suite runs
(tests/test_cli_flag_table.py).

Reproduce (2 CPU cores; a few minutes):

    python benchmarks/cli_flags.py            # run the tests, write the table
    python benchmarks/cli_flags.py --check    # only say which flags no test names

Writes benchmarks/results/cli_flags.{json,md}.
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
HELP = ("-h", "--help")


def parser_flags():
    """`{command: [(flag, ...aliases), ...]}` for every command of `dgflow-tf`, from its parser."""
    from dgflow_tf.cli import app

    flags = {}
    for action in app.build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command, parser in action.choices.items():
                flags[command] = [
                    tuple(act.option_strings)
                    for act in parser._actions
                    if act.option_strings and act.option_strings[0] not in HELP
                ]
    return flags


class _Recorder:
    """A pytest plugin: the flags each collected test claims, and each test's outcome."""

    def __init__(self):
        self.claims, self.outcomes = {}, {}

    def pytest_collection_modifyitems(self, items):
        for item in items:
            for mark in item.iter_markers("cli_flag"):
                command, *flags = mark.args
                self.claims.setdefault(item.nodeid, []).append((command, tuple(flags)))

    def pytest_runtest_logreport(self, report):
        if report.failed:
            self.outcomes[report.nodeid] = "failed"
        elif report.when == "call" or report.skipped:
            self.outcomes.setdefault(report.nodeid, report.outcome)


def collect(run):
    """Runs (or, with `run=False`, only collects) the tests marked `cli_flag`; returns the recorder."""
    import pytest

    recorder = _Recorder()
    os.chdir(ROOT)  # as the suite runs: `tests` importable, relative paths from the root
    sys.path.insert(0, ROOT)
    arguments = ["-q", "-m", "cli_flag", "-p", "no:cacheprovider", "tests"]
    code = pytest.main(arguments + ([] if run else ["--collect-only"]), plugins=[recorder])
    if code not in (0, 1):
        raise SystemExit(f"pytest stopped with exit code {code}")
    return recorder


def table(flags, recorder):
    """One row per command and flag: the tests that name it, and their combined result."""
    rows = []
    for command, actions in flags.items():
        for names in actions:
            tests = sorted(
                nodeid
                for nodeid, claims in recorder.claims.items()
                if any(claimed == command and set(names) & set(named) for claimed, named in claims)
            )
            outcomes = [recorder.outcomes.get(test, "not run") for test in tests]
            if not tests:
                result = "no test"
            elif all(outcome == "passed" for outcome in outcomes):
                result = "passed"
            else:
                result = ", ".join(sorted(set(outcomes) - {"passed"}))
            rows.append({"command": command, "flag": " / ".join(names), "tests": tests, "result": result})
    return rows


def write(rows, output, seconds):
    missing = [row for row in rows if row["result"] == "no test"]
    failed = [row for row in rows if row["result"] not in ("passed", "no test")]
    report = {"command": "python benchmarks/cli_flags.py", "seconds": seconds, "rows": rows}
    with open(output + ".json", "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=1)
    lines = [
        "# Every command-line flag and its test",
        "",
        f"Command: `python benchmarks/cli_flags.py` ({seconds / 60:.1f} minutes on 2 CPU cores). "
        f"{len(rows)} flags over {len({row['command'] for row in rows})} commands (`--help` aside); "
        f"{len(rows) - len(missing) - len(failed)} checked by tests that pass, {len(failed)} by a failing "
        f"test, {len(missing)} by no test. A test names the flags it checks with "
        "`@pytest.mark.cli_flag`; most compare the command's output with the library call the flag "
        "documents and require it to change when the flag does.",
        "",
        "| command | flag | tests | result |",
        "|---|---|---|---|",
    ]
    for row in rows:
        tests = "<br>".join(f"`{test.removeprefix('tests/')}`" for test in row["tests"][:4])
        if len(row["tests"]) > 4:
            tests += f"<br>and {len(row['tests']) - 4} more"
        lines.append(f"| `{row['command']}` | `{row['flag']}` | {tests} | {row['result']} |")
    with open(output + ".md", "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return missing, failed


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="collect only; exit 1 if a flag has no test")
    parser.add_argument("--output", default=os.path.join(HERE, "results", "cli_flags"), help="path stem")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    flags = parser_flags()
    recorder = collect(run=not args.check)
    rows = table(flags, recorder)
    if args.check:
        missing = [f"{row['command']} {row['flag']}" for row in rows if row["result"] == "no test"]
        print(f"{len(rows)} flags; no test names {len(missing)}: " + (", ".join(missing) or "none"))
        return 1 if missing else 0
    missing, failed = write(rows, args.output, time.perf_counter() - start)
    print(f"{len(rows)} flags: {len(failed)} with a failing test, {len(missing)} with none")
    return 1 if missing or failed else 0


if __name__ == "__main__":
    sys.exit(main())
