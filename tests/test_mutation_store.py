"""benchmarks/mutation_store.py: mutmut's verdicts survive a fresh clone, only for unchanged functions."""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))

import mutation_store  # noqa: E402

MODULE = "dgflow_tf/engine.py"
NAMES = [
    "dgflow_tf.engine.x_run__mutmut_1",
    "dgflow_tf.engine.x_run__mutmut_2",
    "dgflow_tf.engine.x_step__mutmut_1",
]


def _write_meta(mutants_dir, hashes, codes):
    path = os.path.join(mutants_dir, MODULE + ".meta")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(
            {"exit_code_by_key": codes, "hash_by_function_name": hashes, "durations_by_key": {}}, handle
        )


def _read_codes(mutants_dir):
    with open(os.path.join(mutants_dir, MODULE + ".meta"), encoding="utf-8") as handle:
        return json.load(handle)["exit_code_by_key"]


def test_verdicts_come_back_only_for_functions_whose_source_is_unchanged(tmp_path):
    ran, fresh, store = tmp_path / "ran", tmp_path / "fresh", tmp_path / "verdicts.json"
    _write_meta(ran, {"x_run": "aaa", "x_step": "bbb"}, dict(zip(NAMES, [1, 0, 1], strict=True)))
    modules = {MODULE: {name: (code, 2.0) for name, code in zip(NAMES, [1, 0, 1], strict=True)}}
    mutation_store.save(str(ran), modules, path=str(store))

    # A new clone: x_step's source changed since (new hash), so its mutant must run again.
    _write_meta(fresh, {"x_run": "aaa", "x_step": "ccc"}, dict.fromkeys(NAMES))
    assert mutation_store.restore(str(fresh), path=str(store)) == 2
    assert _read_codes(fresh) == {NAMES[0]: 1, NAMES[1]: 0, NAMES[2]: None}


def test_a_verdict_measured_since_is_not_overwritten(tmp_path):
    store = tmp_path / "verdicts.json"
    _write_meta(tmp_path, {"x_run": "aaa", "x_step": "bbb"}, {NAMES[0]: 0, NAMES[1]: None, NAMES[2]: None})
    mutation_store.save(str(tmp_path), {MODULE: {NAMES[0]: (0, 1.0)}}, path=str(store))
    _write_meta(tmp_path, {"x_run": "aaa", "x_step": "bbb"}, {NAMES[0]: 1, NAMES[1]: None, NAMES[2]: None})
    assert mutation_store.restore(str(tmp_path), path=str(store)) == 0
    assert _read_codes(tmp_path)[NAMES[0]] == 1


def test_a_changed_function_drops_its_old_verdicts_when_saved_again(tmp_path):
    store = tmp_path / "verdicts.json"
    _write_meta(tmp_path, {"x_run": "aaa", "x_step": "bbb"}, dict(zip(NAMES, [1, 0, 1], strict=True)))
    mutation_store.save(
        str(tmp_path), {MODULE: {n: (c, 1.0) for n, c in zip(NAMES, [1, 0, 1], strict=True)}}, path=str(store)
    )
    _write_meta(tmp_path, {"x_run": "new", "x_step": "bbb"}, {NAMES[0]: 1, NAMES[1]: None, NAMES[2]: 1})
    mutation_store.save(
        str(tmp_path), {MODULE: {NAMES[0]: (1, 1.0), NAMES[1]: (None, None)}}, path=str(store)
    )
    kept = json.loads(store.read_text())[MODULE]
    assert kept["verdicts"] == {NAMES[0]: [1, 1.0], NAMES[2]: [1, 1.0]}  # x_run's survivor (0) is gone
    assert kept["hashes"] == {"x_run": "new", "x_step": "bbb"}


def test_package_init_mutants_map_to_their_function():
    assert (
        mutation_store._function_of("dgflow_tf/__init__.py", "dgflow_tf.x___getattr____mutmut_3")
        == "x___getattr__"
    )
    assert (
        mutation_store._function_of("dgflow_tf/cli/app.py", "dgflow_tf.cli.app.xǁAppǁrun__mutmut_12")
        == "xǁAppǁrun"
    )


def _previous_row(**counts):
    row = {"module": MODULE, "mutants": 90, "sampled": 30, "killed": 24, "timeout": 1, "survived": 4}
    row.update({"no tests": 0, "equivalent": 1, "other": 0, "not run": 0, "score": 25 / 29, "seconds": 100.0})
    row.update(counts)
    return row


def test_a_previous_row_is_carried_with_its_survivors_counted_by_their_new_verdicts():
    survivors = [{"module": MODULE, "name": f"s{i}", "status": "survived", "change": ""} for i in range(4)]
    previous = {"rows": [_previous_row()], "survivors": survivors}
    now = {"s0": "killed", "s1": "timeout", "s2": "survived", "s3": "not run"}
    fresh = [dict(_previous_row(), killed=0, timeout=0, survived=1, equivalent=0, **{"not run": 29})]
    rows, alive = mutation_store.rows_to_carry(previous, fresh, now.get, {"s3": "why"}, "abc1234")
    (row,) = rows
    # s0 killed, s1 timed out, s3 now known to be equivalent; s2 still survives.
    assert (row["killed"], row["timeout"], row["survived"], row["equivalent"]) == (25, 2, 1, 2)
    assert row["score"] == 27 / 28 and row["measured_at"] == "abc1234"
    assert [entry["name"] for entry in alive] == ["s2"]


def test_a_module_measured_afresh_replaces_its_previous_row():
    previous = {"rows": [_previous_row()], "survivors": []}
    fresh = [dict(_previous_row(), **{"not run": 0})]
    assert mutation_store.rows_to_carry(previous, fresh, lambda name: "killed", {}, "abc1234") == ([], [])
    # Fewer verdicts now than the previous row had (only its survivors ran again): the old row stands.
    partial = [dict(_previous_row(), **{"not run": 27})]
    rows, _ = mutation_store.rows_to_carry(previous, partial, lambda name: "killed", {}, "abc1234")
    assert len(rows) == 1


def test_carried_survivors_are_those_without_a_verdict_here():
    previous = {"survivors": [{"module": MODULE, "name": NAMES[0]}, {"module": MODULE, "name": NAMES[1]}]}
    modules = {MODULE: {NAMES[0]: (1, 1.0), NAMES[1]: (None, None)}}
    assert mutation_store.carried_survivors(previous, modules) == [NAMES[1]]


def test_a_mutant_listed_as_equivalent_counts_as_equivalent_whether_or_not_it_ran():
    import mutation

    modules = {MODULE: {NAMES[0]: (1, 0.0), NAMES[1]: (None, None), NAMES[2]: (0, 0.0)}}
    rows, survivors = mutation.tabulate({MODULE: NAMES}, modules, {NAMES[1]: "why", NAMES[2]: "why"})
    (row,) = rows
    assert (row["killed"], row["survived"], row["equivalent"], row["not run"]) == (1, 0, 2, 0)
    assert row["score"] == 1.0 and survivors == []
