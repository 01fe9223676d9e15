"""Keeps mutmut's verdicts in the repository, so that a fresh clone resumes the mutation run.

mutmut stores each mutant's exit code beside the mutants it generates, in `mutants/` (ignored by git:
about 19,000 mutant copies of the package), so a new checkout would start from nothing. This file
keeps, per module, the verdicts of the mutants that ran with the hash mutmut gave the source of each
mutant's function. On the next run, a verdict is restored only where that function's hash is still
the same: a changed function's mutants run again, as mutmut itself would.

Modules whose verdicts were not kept (the runs before this file existed) keep their row of the
previous table (`rows_to_carry`), with the commit it was measured at; a survivor of such a row that
has been run again since counts by its new verdict.
"""

import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
VERDICTS = os.path.join(HERE, "results", "mutation_verdicts.json")


def _function_of(module, name):
    """`dgflow_tf.engine.x_run__mutmut_3` in `dgflow_tf/engine.py` -> `x_run`."""
    prefix = module[: -len(".py")].replace("/", ".")
    if prefix.endswith(".__init__"):
        prefix = prefix[: -len(".__init__")]
    return name[len(prefix) + 1 :].rsplit("__mutmut_", 1)[0]


def _read(path):
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def restore(mutants_dir, path=VERDICTS):
    """Writes the kept verdicts into mutmut's `.meta` files where the mutant has no result yet and its
    function is unchanged. Returns the number restored."""
    restored = 0
    for module, kept in _read(path).items():
        meta_path = os.path.join(mutants_dir, module + ".meta")
        if not os.path.exists(meta_path):
            continue
        meta = _read(meta_path)
        hashes = meta.get("hash_by_function_name", {})
        codes, durations = meta["exit_code_by_key"], meta.setdefault("durations_by_key", {})
        restored_here = 0
        for name, (code, seconds) in kept["verdicts"].items():
            function = _function_of(module, name)
            unchanged = hashes.get(function) is not None and hashes[function] == kept["hashes"].get(function)
            if unchanged and codes.get(name, 0) is None:
                codes[name] = code
                if seconds is not None:
                    durations[name] = seconds
                restored_here += 1
        if restored_here:  # leave mutmut's file untouched when nothing changes in it
            with open(meta_path, "w", encoding="utf-8") as handle:
                json.dump(meta, handle, indent=4)
        restored += restored_here
    return restored


def save(mutants_dir, modules, path=VERDICTS):
    """Keeps every verdict now in mutmut's `.meta` files (`modules`: `mutation.read_results()`), with
    the hashes of the functions they were measured on; verdicts kept earlier for a module stay unless
    replaced."""
    kept = _read(path)
    for module, results in sorted(modules.items()):
        ran = {name: [code, seconds] for name, (code, seconds) in results.items() if code is not None}
        if not ran:
            continue
        hashes = _read(os.path.join(mutants_dir, module + ".meta")).get("hash_by_function_name", {})
        entry = kept.setdefault(module, {"hashes": {}, "verdicts": {}})
        for name, verdict in ran.items():
            function = _function_of(module, name)
            # A function whose source changed since: its earlier verdicts no longer hold.
            if entry["hashes"].get(function) != hashes.get(function):
                entry["verdicts"] = {
                    old: value
                    for old, value in entry["verdicts"].items()
                    if _function_of(module, old) != function
                }
                entry["hashes"][function] = hashes.get(function)
            entry["verdicts"][name] = verdict
        entry["verdicts"] = dict(sorted(entry["verdicts"].items()))
        entry["hashes"] = dict(sorted(entry["hashes"].items()))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(dict(sorted(kept.items())), handle, indent=1)


def carried_survivors(previous_report, modules):
    """Survivors of the previous table (mutant names) that have no verdict here yet."""
    verdicts = {name: code for results in modules.values() for name, (code, _) in results.items()}
    return [
        entry["name"] for entry in previous_report.get("survivors", []) if verdicts.get(entry["name"]) is None
    ]


def rows_to_carry(previous_report, fresh_rows, status_of, equivalent, commit):
    """The previous table's rows of modules with no verdict in this run, updated by what is known now.

    Args:
      previous_report: the previous `mutation.json` (a dict; empty for none).
      fresh_rows: this run's rows (from the verdicts in `mutants/`).
      status_of: mutant name -> its status now ("killed", "timeout", "survived", "not run", ...).
      equivalent: names of mutants known to be equivalent.
      commit: the commit the previous table was measured at, for rows that do not name one.

    Returns:
      (rows, survivors): the carried rows, each with `measured_at`, and the survivors still alive.
    """
    # A module is measured afresh once this run has at least as many verdicts as the previous row had;
    # until then (e.g. only its survivors were run again) the previous row stands, updated.
    ran_now = {row["module"]: row["sampled"] - row["not run"] for row in fresh_rows}
    rows, survivors = [], []
    previous_survivors = {}
    for entry in previous_report.get("survivors", []):
        previous_survivors.setdefault(entry["module"], []).append(entry)
    for row in previous_report.get("rows", []):
        if ran_now.get(row["module"], 0) >= row["sampled"] - row["not run"]:
            continue
        row = dict(row, measured_at=row.get("measured_at", commit))
        for entry in previous_survivors.get(row["module"], []):
            now = "equivalent" if entry["name"] in equivalent else status_of(entry["name"])
            if now in (entry["status"], "not run"):
                survivors.append(entry)
                continue
            row[entry["status"]] -= 1
            row[now if now in row else "other"] += 1
            if now in ("survived", "no tests", "other"):
                survivors.append(dict(entry, status=now))
        scored = row["sampled"] - row["equivalent"] - row["not run"]
        row["score"] = (row["killed"] + row["timeout"]) / scored if scored else None
        rows.append(row)
    return rows, survivors
