"""The notebooks: paired sources in sync, committed without outputs, and executed top to bottom."""

import pathlib

import pytest

jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((pathlib.Path(__file__).parent.parent / "notebooks").glob("*.py"))


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
    assert (
        f"colab.research.google.com/github/dgflow-tf/dgflow_tf/blob/main/notebooks/{notebook_path.name}"
        in text
    )
    assert '"google.colab" in sys.modules' in text and "pip" in text


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
