"""Mutation testing of the whole package with mutmut, module by module.

mutmut generates the mutants of every module of `dgflow_tf/` (operators it knows: flipped comparisons
and signs, changed numbers and strings, dropped arguments, `None` for a value) and maps every
function to the tests that call it, so each mutant runs only the tests that reach its code. All of
them (about 19,000) would take days on 2 CPU cores, so this runs a seeded sample of `--per-module`
mutants of each module (all of a module's mutants when it has fewer) and tabulates, per module:
killed, timed out, survived, not reached by any test, equivalent (a survivor that cannot change any
result, with the reason, from `mutation_equivalent.json`), and the time.

mutmut is configured under `[tool.mutmut]` in pyproject.toml: its fork server imports TensorFlow
without running an op (a child forked after an op deadlocks), and `mutmut_signatures.py` keeps
Keras layers constructible under mutmut's trampolines. The suites that run the package in another
interpreter or a browser are left out: no mutant is active there.

Reproduce (2 CPU cores; the results persist in mutants/, so an interrupted run resumes):

    pip install -e ".[test,mutation]"
    python benchmarks/mutation.py --jobs 2                          # 30 a module, 30 tests a mutant
    python benchmarks/mutation.py --modules 'dgflow_tf/engine.py'   # one module
    python benchmarks/mutation.py --modules 'dgflow_tf/engine.py' --rerun-survivors   # after new tests,
                                                                    # against every test reaching them
    python benchmarks/mutation.py --report-only                     # tables from the results so far
    PYTHONPATH=benchmarks mutmut show NAME                          # one mutant's diff

Writes benchmarks/results/mutation.{json,md}.
"""

import argparse
import fnmatch
import glob
import json
import os
import random
import shutil
import subprocess
import sys
import time

import mutation_store

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MUTANTS = os.path.join(ROOT, "mutants")
STATS = os.path.join(MUTANTS, "mutmut-stats.json")
FULL_STATS = os.path.join(MUTANTS, "mutmut-stats-uncapped.json")
TIMES = os.path.join(MUTANTS, "mutation-seconds.json")  # wall seconds spent per module
GENERATED_AT = os.path.join(MUTANTS, "generated-at-commit.txt")  # the commit the mutants and tests came from
EQUIVALENT = os.path.join(HERE, "mutation_equivalent.json")
BELOW_REASONS = os.path.join(HERE, "mutation_below_reasons.json")  # why a module scores under 90 %

# mutmut's exit codes (mutmut.stats.status_by_exit_code), grouped as this table counts them.
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 36: "timeout"}
STATUS.update({-24: "timeout", 24: "timeout", 152: "timeout", 255: "timeout", None: "not run"})

_GENERATE = """
import os, sys
from mutmut.__main__ import create_mutants, set_mutant_under_test, store_lines_covered_by_tests
from mutmut.utils.file_utils import copy_also_copy_files, copy_src_dir, setup_source_paths
set_mutant_under_test("mutant_generation")
os.makedirs("mutants", exist_ok=True)
copy_src_dir(); copy_also_copy_files(); setup_source_paths(); store_lines_covered_by_tests()
stats = create_mutants(int(sys.argv[1]))
print(f"{stats.mutated} files mutated, {stats.unmodified} unmodified")
"""


def _environment():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [HERE, env.get("PYTHONPATH")]))
    # The tests find MNIST beside the repository (tests/conftest.py), but mutmut runs them from
    # mutants/tests, one folder deeper, where that guess misses: they would skip, and every mutant
    # that only they reach would survive. Point them at the copy the real tests would use.
    shared_mnist = os.path.join(os.path.dirname(ROOT), "shared", "data", "mnist")
    if "DGFLOW_TF_MNIST_DIR" not in env:
        if os.path.isdir(shared_mnist):
            env["DGFLOW_TF_MNIST_DIR"] = shared_mnist
        else:
            print(
                "warning: no MNIST folder (DGFLOW_TF_MNIST_DIR): the MNIST tests skip, so mutants that "
                "only they reach survive",
                file=sys.stderr,
                flush=True,
            )
    return env


def generate(jobs):
    """Has mutmut write (or refresh) the mutants of every module under mutants/."""
    subprocess.run([sys.executable, "-c", _GENERATE, str(jobs)], cwd=ROOT, env=_environment(), check=True)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "dgflow_tf", "tests"], cwd=ROOT, capture_output=True
    )
    with open(GENERATED_AT, "w", encoding="utf-8") as handle:
        handle.write((_commit() or "") + ("+changes" if dirty.stdout.strip() else ""))


def read_results():
    """Maps each module's path to its mutants: {name: (exit code, seconds)}."""
    modules = {}
    for meta in sorted(glob.glob(os.path.join(MUTANTS, "dgflow_tf", "**", "*.py.meta"), recursive=True)):
        with open(meta, encoding="utf-8") as handle:
            data = json.load(handle)
        module = os.path.relpath(meta, MUTANTS)[: -len(".meta")].replace(os.sep, "/")
        durations = data.get("durations_by_key", {})
        modules[module] = {
            name: (code, durations.get(name)) for name, code in data["exit_code_by_key"].items()
        }
    return modules


def sample(modules, per_module, seed, patterns):
    """A seeded sample of each module's mutant names (of the modules matching any of `patterns`, fnmatch
    globs): the same code and seed give the same sample."""
    chosen = {}
    for module, mutants in modules.items():
        if not any(fnmatch.fnmatch(module, pattern) for pattern in patterns) or not mutants:
            continue
        names = sorted(mutants)
        picked = random.Random(f"{seed}:{module}").sample(names, min(per_module, len(names)))
        chosen[module] = sorted(picked)
    return chosen


def _mutmut_script():
    """mutmut's console script: beside this interpreter (a virtual environment), else on PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "mutmut")
    found = beside if os.path.exists(beside) else shutil.which("mutmut")
    if found is None:
        raise SystemExit('mutmut is not installed: pip install -e ".[test,mutation]"')
    return found


def cap_tests(max_tests):
    """Keeps at most `max_tests` of the tests mutmut found reaching each function (in its stats file).

    A survivor in a function most tests reach (the engine's loop: 200 tests, 5 minutes) would
    otherwise rerun them all. Kept first: the tests of the module's own test files (a name part of
    the module in the file's name: `test_engine.py` for `engine.py`), then the fastest. `None`
    restores every test (for reruns of the few survivors). The uncapped
    mapping is kept beside it, so a new cap starts from all of them.
    """
    with open(STATS, encoding="utf-8") as handle:
        stats = json.load(handle)
    full = {}
    if os.path.exists(FULL_STATS):
        with open(FULL_STATS, encoding="utf-8") as handle:
            full = json.load(handle)
    tests = stats["tests_by_mangled_function_name"]
    for function, names in tests.items():  # tests found since the last cap join the full lists
        full[function] = sorted(set(full.get(function, [])) | set(names))
    with open(FULL_STATS, "w", encoding="utf-8") as handle:
        json.dump(full, handle)
    durations = stats["duration_by_test"]
    if max_tests is None:
        stats["tests_by_mangled_function_name"] = full
        with open(STATS, "w", encoding="utf-8") as handle:
            json.dump(stats, handle, indent=1)
        return
    for function, names in full.items():
        parts = [part.rstrip("s") for part in function.split(".")[1:-1] if part.strip("_")]
        parts = [part.strip("_") for part in parts]

        def own_tests_first(name, parts=parts):
            test_file = name.split("::")[0].rsplit("/", 1)[-1]
            return (not any(part and part in test_file for part in parts), durations.get(name, 0.0), name)

        tests[function] = sorted(names, key=own_tests_first)[:max_tests]
    with open(STATS, "w", encoding="utf-8") as handle:
        json.dump(stats, handle, indent=1)


def run_pending(chosen, modules, jobs, max_tests, rerun_survivors=False, equivalent=(), carried=()):
    """Runs every sampled mutant that has no result yet (or, if asked, only the survivors that are
    not known to be equivalent, again, after tests were added for them, with `carried`: the previous
    table's survivors in modules with no verdict here); mutmut stores each result as it comes.
    `max_tests=None` runs every test that reaches a mutant's function."""
    wanted = ("survived", "no tests") if rerun_survivors else ("not run",)
    pending = [
        name
        for module, names in chosen.items()
        for name in names
        if STATUS.get(modules[module][name][0]) in wanted and name not in equivalent
    ]
    if rerun_survivors:
        pending += [
            name for name in carried if name in set().union(*chosen.values()) and name not in equivalent
        ]
    print(f"{len(pending)} sampled mutants to run", flush=True)
    if pending and not os.path.exists(STATS):
        # mutmut maps functions to tests (its "stats" run of the whole selection) before its first
        # mutant; run one mutant to have the map, then cap it.
        subprocess.run([_mutmut_script(), "run", pending[0]], cwd=ROOT, env=_environment(), check=False)
        pending = pending[1:]
    if pending:
        cap_tests(max_tests)
        command = [_mutmut_script(), "run", "--max-children", str(jobs), *pending]
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, env=_environment(), check=False)
        module_of = {name: module for module, names in chosen.items() for name in names}
        _add_seconds([module_of[name] for name in pending], time.perf_counter() - start)


def _add_seconds(modules, seconds):
    """Adds a run's wall time to its modules, shared by their numbers of mutants in it."""
    times = read_seconds()
    for module in modules:
        times[module] = times.get(module, 0.0) + seconds / len(modules)
    with open(TIMES, "w", encoding="utf-8") as handle:
        json.dump(times, handle, indent=1)


def read_seconds():
    """Wall seconds spent on each module's mutants so far."""
    if not os.path.exists(TIMES):
        return {}
    with open(TIMES, encoding="utf-8") as handle:
        return json.load(handle)


def _diff(name):
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        lines = get_diff_for_mutant(name).splitlines()
    finally:
        os.chdir(cwd)
    changed = [line for line in lines[2:] if line[:1] in "+-"]
    return " / ".join(line[0] + " " + line[1:].strip() for line in changed)


def _commit(*paths):
    """The short hash of HEAD (or of the last commit that changed `paths`); None outside git."""
    command = (
        ["git", "log", "-1", "--format=%h", "--", *paths]
        if paths
        else ["git", "rev-parse", "--short", "HEAD"]
    )
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    return result.stdout.strip() or None


def keep_earlier_stamps(rows, previous, selected):
    """Rows of modules not in `selected` keep the commit and seconds of the previous table's row.

    Their verdicts come from the store, not from mutants run at today's commit; `--report-only`
    runs nothing, so it selects no module.
    """
    earlier = {row["module"]: row for row in previous.get("rows", [])}
    for row in rows:
        before = earlier.get(row["module"])
        if row["module"] not in selected and before is not None and before.get("measured_at"):
            row["measured_at"], row["seconds"] = before["measured_at"], before.get("seconds") or 0.0


def tabulate(chosen, modules, equivalent):
    rows, survivors = [], []
    wall = read_seconds()
    head = None
    if os.path.exists(GENERATED_AT):
        with open(GENERATED_AT, encoding="utf-8") as handle:
            head = handle.read().strip() or None
    for module, names in chosen.items():
        counts = {"killed": 0, "timeout": 0, "survived": 0, "no tests": 0, "equivalent": 0, "other": 0}
        counts["not run"] = 0
        for name in names:
            code, _ = modules[module][name]
            status = STATUS.get(code, "other")
            # A mutant shown equivalent needs no run: its reason stands whether or not it ran.
            if status in ("survived", "no tests", "not run") and name in equivalent:
                status = "equivalent"
            counts[status] += 1
            if status in ("survived", "no tests", "other"):
                survivors.append({"module": module, "name": name, "status": status, "change": _diff(name)})
        scored = len(names) - counts["equivalent"] - counts["not run"]
        detected = counts["killed"] + counts["timeout"]
        rows.append(
            {
                "module": module,
                "mutants": len(modules[module]),
                "sampled": len(names),
                **counts,
                "score": detected / scored if scored else None,
                "seconds": wall.get(module, 0.0),
                "measured_at": head if len(names) > counts["not run"] else None,
            }
        )
    return rows, survivors


def write(rows, survivors, equivalent, args, wall):
    totals = {
        key: sum(row[key] for row in rows) for key in rows[0] if key not in ("module", "score", "measured_at")
    }
    scored = totals["sampled"] - totals["equivalent"] - totals["not run"]
    totals["score"] = (totals["killed"] + totals["timeout"]) / scored if scored else None
    below = [row["module"] for row in rows if row["score"] is not None and row["score"] < 0.9]
    reasons = {}
    if os.path.exists(BELOW_REASONS):
        with open(BELOW_REASONS, encoding="utf-8") as handle:
            reasons = json.load(handle)
    import mutmut

    report = {
        "command": "python benchmarks/mutation.py " + " ".join(args.argv),
        "tool": f"mutmut {mutmut.__version__}",
        "per_module": args.per_module,
        "max_tests": args.max_tests,
        "seed": args.seed,
        "wall_seconds_this_call": wall,
        "totals": totals,
        "rows": rows,
        "below_90_percent": below,
        "survivors": survivors,
        "equivalent": {name: reason for name, reason in equivalent.items()},
        "below_90_percent_reasons": {module: reasons.get(module) for module in below},
    }
    with open(args.output + ".json", "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=1)

    def percent(value):
        return "" if value is None else f"{100 * value:.0f} %"

    lines = [
        "# Mutation testing of the whole package",
        "",
        f"Tool: {report['tool']}, configured under `[tool.mutmut]` in pyproject.toml. Reproduce: "
        "`python benchmarks/mutation.py --jobs 2` (it resumes; `--modules GLOB` runs some modules, "
        "`--rerun-survivors` runs the survivors again after tests were added for them); this table "
        f"was written by `{report['command']}`. Each module's sample is {args.per_module} of mutmut's "
        f"mutants drawn with seed {args.seed} (all of them for a smaller module). Each mutant runs at "
        "most `--max-tests` (30) of the tests mutmut found reaching its function: first those of the "
        "module's own test files, then the fastest; a rerun of survivors (after tests were written for "
        "them) runs every test that reaches them, or the first `--max-tests` in the same order when given, "
        "and skips the equivalent ones. Score: killed or "
        "timed out, over "
        "the sampled mutants that ran and are not equivalent. Seconds: wall time of mutmut's runs of the "
        "module's mutants (shared by mutant count when modules ran together), on 2 CPU cores. Measured "
        "at: the commit whose package and tests were mutated and run (`+changes`: with uncommitted edits; "
        "seconds are blank where the run was stopped before it recorded them). Verdicts are kept in "
        "`benchmarks/results/mutation_verdicts.json` with the hash of each mutant's function, so a fresh "
        "clone resumes; a module measured before they were kept shows its row of the table of that commit, "
        "its survivors counted by their verdict since.",
        "",
        f"In all: {totals['sampled']} of {totals['mutants']} mutants sampled, {totals['killed']} killed, "
        f"{totals['timeout']} timed out, {totals['survived']} survived, {totals['no tests']} not "
        f"reached by a test, {totals['equivalent']} equivalent, {totals['not run']} not run yet; "
        f"score {percent(totals['score'])}. Modules below 90 %: "
        f"{', '.join(f'`{m}`' for m in below) or 'none'}.",
        "",
        "| module | mutants | sampled | killed | timeout | survived | no tests | equivalent | not run "
        "| score | seconds | measured at |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        seconds = f"{row['seconds']:.0f}" if row["seconds"] else ""  # blank: not measured
        lines.append(
            f"| `{row['module']}` | {row['mutants']} | {row['sampled']} | {row['killed']} | "
            f"{row['timeout']} | {row['survived']} | {row['no tests']} | {row['equivalent']} | "
            f"{row['not run']} | {percent(row['score'])} | {seconds} | {row.get('measured_at') or ''} |"
        )
    if below:
        lines += ["", "## Modules below 90 %, and why", "", "| module | score | why |", "|---|---:|---|"]
        score = {row["module"]: row["score"] for row in rows}
        for module in below:
            why = reasons.get(module, "not yet examined")
            lines.append(f"| `{module}` | {percent(score[module])} | {why} |")
    if survivors:
        lines += ["", "## Survivors", "", "| mutant | result | change |", "|---|---|---|"]
        for entry in survivors:
            change = entry["change"].replace("|", "\\|")
            lines.append(f"| `{entry['name']}` | {entry['status']} | `{change}` |")
    if equivalent:
        lines += ["", "## Equivalent mutants", "", "| mutant | why it cannot change a result |", "|---|---|"]
        lines += [f"| `{name}` | {reason} |" for name, reason in sorted(equivalent.items())]
    with open(args.output + ".md", "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    print("\n".join(lines[: 12 + len(rows)]))


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--per-module", type=int, default=30, help="mutants sampled per module (default 30)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample (default 0)")
    parser.add_argument(
        "--modules",
        nargs="+",
        default=["dgflow_tf/*"],
        help="globs of module paths to run (default all; `*` also matches `/`)",
    )
    parser.add_argument("--jobs", type=int, default=1, help="mutants run at once (default 1)")
    parser.add_argument(
        "--max-tests",
        type=int,
        default=None,
        help="tests run per mutant, of those reaching it (default 30; every one with --rerun-survivors)",
    )
    parser.add_argument("--report-only", action="store_true", help="tabulate the results so far; run nothing")
    parser.add_argument(
        "--rerun-survivors",
        action="store_true",
        help="run only the sampled survivors, again (after new tests)",
    )
    parser.add_argument("--output", default=os.path.join(HERE, "results", "mutation"), help="path stem")
    args = parser.parse_args(argv)
    if min(args.per_module, args.jobs, 1 if args.max_tests is None else args.max_tests) < 1:
        parser.error("--per-module, --jobs and --max-tests must be at least 1")
    if args.max_tests is None and not args.rerun_survivors:
        args.max_tests = 30
    args.argv = sys.argv[1:] if argv is None else list(argv)
    start = time.perf_counter()
    if not args.report_only:
        generate(args.jobs)
        print(f"{mutation_store.restore(MUTANTS)} verdicts restored from {mutation_store.VERDICTS}")
    modules = read_results()
    if not modules:
        parser.error("no mutants under mutants/: run without --report-only first")
    chosen = sample(modules, args.per_module, args.seed, args.modules)
    if not chosen:
        parser.error(f"--modules {' '.join(args.modules)} matches no module with mutants")
    equivalent = {}
    if os.path.exists(EQUIVALENT):
        with open(EQUIVALENT, encoding="utf-8") as handle:
            equivalent = json.load(handle)
    previous = {}
    if os.path.exists(args.output + ".json"):
        with open(args.output + ".json", encoding="utf-8") as handle:
            previous = json.load(handle)
    if not args.report_only:
        carried = mutation_store.carried_survivors(previous, modules)
        run_pending(chosen, modules, args.jobs, args.max_tests, args.rerun_survivors, equivalent, carried)
        modules = read_results()
    mutation_store.save(MUTANTS, modules)  # after --report-only too: what mutants/ holds is kept
    # The table covers every module's sample, whichever --modules this call ran; modules without
    # verdicts here keep their previous row.
    everything = sample(modules, args.per_module, args.seed, ["dgflow_tf/*"])
    rows, survivors = tabulate(everything, modules, equivalent)
    keep_earlier_stamps(rows, previous, () if args.report_only else chosen)
    status_of = {
        name: STATUS.get(code, "other") for results in modules.values() for name, (code, _) in results.items()
    }
    carried_rows, carried_survivors = mutation_store.rows_to_carry(
        previous,
        rows,
        lambda name: status_of.get(name, "not run"),
        equivalent,
        _commit(args.output + ".json"),
    )
    carried_modules = {row["module"] for row in carried_rows}
    rows = sorted(
        [row for row in rows if row["module"] not in carried_modules] + carried_rows,
        key=lambda r: r["module"],
    )
    survivors = [entry for entry in survivors if entry["module"] not in carried_modules] + carried_survivors
    survivors.sort(key=lambda entry: entry["name"])
    write(rows, survivors, equivalent, args, time.perf_counter() - start)


if __name__ == "__main__":
    main()
