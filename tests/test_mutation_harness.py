"""benchmarks/mutation.py's environment for mutmut's test runs.

mutmut runs the tests from mutants/tests, one folder below where tests/conftest.py looks for MNIST
beside the repository, so without help those tests skip and every mutant only they reach survives.
"""

import pytest
from benchmark_scripts import load_benchmark


@pytest.fixture
def mutation(monkeypatch, tmp_path):
    module = load_benchmark("mutation")
    monkeypatch.setattr(module, "ROOT", str(tmp_path / "repository"))
    monkeypatch.delenv("DGFLOW_TF_MNIST_DIR", raising=False)
    return module


def test_the_mnist_copy_beside_the_repository_is_passed_to_the_tests(mutation, tmp_path):
    shared = tmp_path / "shared" / "data" / "mnist"
    shared.mkdir(parents=True)
    assert mutation._environment()["DGFLOW_TF_MNIST_DIR"] == str(shared)


def test_a_folder_the_user_set_is_kept(mutation, monkeypatch, tmp_path):
    (tmp_path / "shared" / "data" / "mnist").mkdir(parents=True)
    monkeypatch.setenv("DGFLOW_TF_MNIST_DIR", "/elsewhere/mnist")
    assert mutation._environment()["DGFLOW_TF_MNIST_DIR"] == "/elsewhere/mnist"


def test_without_mnist_the_run_warns_that_its_tests_will_skip(mutation, capsys):
    environment = mutation._environment()
    assert "DGFLOW_TF_MNIST_DIR" not in environment
    assert "the MNIST tests skip, so mutants that only they reach survive" in capsys.readouterr().err


def _row(module, measured_at, seconds):
    return {"module": module, "measured_at": measured_at, "seconds": seconds}


def test_a_report_only_call_keeps_every_module_s_commit_and_seconds():
    module = load_benchmark("mutation")
    previous = {"rows": [_row("a.py", "1111111", 40.0), _row("b.py", "2222222", 50.0)]}
    rows = [_row("a.py", "9999999", 0.0), _row("b.py", "9999999", 0.0)]
    module.keep_earlier_stamps(rows, previous, selected=())
    assert rows == previous["rows"]


def test_a_module_run_now_is_stamped_now_and_the_others_keep_theirs():
    module = load_benchmark("mutation")
    previous = {"rows": [_row("a.py", "1111111", 40.0), _row("b.py", "2222222", None)]}
    rows = [_row("a.py", "9999999", 12.0), _row("b.py", "9999999", 7.0), _row("c.py", "9999999", 3.0)]
    module.keep_earlier_stamps(rows, previous, selected={"a.py"})
    assert rows == [_row("a.py", "9999999", 12.0), _row("b.py", "2222222", 0.0), _row("c.py", "9999999", 3.0)]
