"""The guides run as written: every Python block in order, printing what the page shows."""

import pathlib
import re

import pytest
from guides import blocks, outputs_agree, run_guide

ROOT = pathlib.Path(__file__).resolve().parent.parent
#: Pages under docs/ that run as written.
RUNNABLE = (
    "index.md",
    "guides/keras-gan.md",
    "guides/tfhub.md",
    "guides/export-serving.md",
    "guides/vae-flow-corrector.md",
    "guides/streaming-distributed.md",
    "guides/choosing-step-size.md",
)
#: Guides that read MNIST's training images (the rest run on shipped weights and statistics alone).
NEEDS_MNIST = ("guides/vae-flow-corrector.md",)


def test_outputs_agree_tolerates_last_digits_but_not_other_numbers_or_words():
    assert outputs_agree("FID  34.4  step 0.0148", "FID  34.9  step 0.0150")
    assert not outputs_agree("FID  34.4", "FID  41.0")
    assert not outputs_agree("base FID 34.4", "DGflow FID 34.4")
    assert not outputs_agree("[0, 5, 10]", "[0, 5, 10, 15]")


def test_blocks_pair_each_python_block_with_the_output_right_after_it():
    page = "```python\nprint(1)\n```\n\n```text\n1\n```\ntext\n```python\nx = 2\n```\n"
    assert [(code, expected) for code, expected, _ in blocks(page)] == [
        ("print(1)\n", "1\n"),
        ("x = 2\n", None),
    ]


@pytest.mark.parametrize("name", RUNNABLE)
def test_a_guide_runs_top_to_bottom_and_prints_what_it_shows(name, tmp_path, request, monkeypatch):
    if name in NEEDS_MNIST:
        monkeypatch.setenv("DGFLOW_TF_MNIST_DIR", request.getfixturevalue("mnist_dir"))
    page = ROOT / "docs" / name
    outcomes = run_guide(page, tmp_path)
    shown = [(code, expected, printed) for code, expected, printed in outcomes if expected is not None]
    assert shown, "a guide shows its outputs"
    for code, expected, printed in shown:
        assert outputs_agree(expected, printed), f"{code}\nshown:\n{expected}\nprinted:\n{printed}"
    # Every picture the page shows is one its own code draws.
    for picture in re.findall(r"\]\(img/([^)]+\.png)\)", page.read_text(encoding="utf-8")):
        assert (tmp_path / picture).exists(), picture
