"""The notebooks: paired sources in sync, committed without outputs, and executed top to bottom."""

import pathlib

import pytest

jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK_DIR = pathlib.Path(__file__).parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.py"))


def test_there_are_five_notebooks():
    assert [path.stem[:2] for path in NOTEBOOKS] == ["01", "02", "03", "04", "05"]


@pytest.mark.parametrize("source", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_is_paired_clean_and_colab_ready(source):
    notebook_path = source.with_suffix(".ipynb")
    assert notebook_path.exists(), f"run `jupytext --sync {source}`"
    notebook = jupytext.read(notebook_path)
    paired = jupytext.read(source)
    assert [cell.source for cell in notebook.cells] == [cell.source for cell in paired.cells], (
        f"{notebook_path.name} is out of sync with {source.name}: run `jupytext --sync {source}`"
    )
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None, "commit without outputs"
    text = source.read_text()
    # Unpublished, a notebook links to no repository (none resolves yet); notebooks/publish.py adds it.
    assert "github.com" not in text and "colab-badge" not in text
    assert '"google.colab" in sys.modules' in text and 'DGFLOW_TF_SOURCE = "dgflow_tf"' in text


def test_publish_points_badges_and_installs_at_a_repository_once(tmp_path):
    import shutil
    import subprocess
    import sys

    for source in NOTEBOOKS:
        shutil.copy(source, tmp_path / source.name)
    command = [sys.executable, str(NOTEBOOK_DIR / "publish.py"), "--directory", str(tmp_path)]
    for _ in range(2):  # a second run replaces, never adds
        completed = subprocess.run(
            [*command, "--repository", "someone/dgflow_tf", "--ref", "v0.3"], capture_output=True, text=True
        )
        assert completed.returncode == 0, completed.stderr
    for source in NOTEBOOKS:
        text = (tmp_path / source.name).read_text()
        badge = f"colab.research.google.com/github/someone/dgflow_tf/blob/v0.3/notebooks/{source.stem}.ipynb"
        assert text.count(badge) == 1 and text.count("colab-badge.svg") == 1, source.name
        assert text.count('DGFLOW_TF_SOURCE = "git+https://github.com/someone/dgflow_tf@v0.3"') == 1
        paired = jupytext.read(tmp_path / f"{source.stem}.ipynb")
        assert any(badge in cell.source for cell in paired.cells), "the .ipynb pair is written too"
    bad = subprocess.run([*command, "--repository", "not a repository"], capture_output=True, text=True)
    assert bad.returncode == 2 and "OWNER/NAME" in bad.stderr


@pytest.mark.parametrize("source", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_runs_top_to_bottom(source, tmp_path, monkeypatch, request):
    # The kernel inherits this environment: small sizes, quiet TensorFlow.
    monkeypatch.setenv("DGFLOW_TF_NOTEBOOK_SMOKE", "1")
    if source.stem.startswith("02"):  # calibrates on MNIST training images
        monkeypatch.setenv("DGFLOW_TF_MNIST_DIR", request.getfixturevalue("mnist_dir"))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    notebook = jupytext.read(source.with_suffix(".ipynb"))
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert not errors
