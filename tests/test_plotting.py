"""Plots: what is drawn (read back from the figure as it is saved) and the PNG's size."""

import matplotlib.figure
import numpy as np
import pytest
from PIL import Image

from dgflow_tf import plotting


@pytest.fixture
def saved_figures(monkeypatch):
    """The figures `savefig` is called on, with what their axes hold at that moment."""
    seen = []
    save = matplotlib.figure.Figure.savefig

    def record(figure, *args, **kwargs):
        axis = figure.axes[0]
        seen.append(
            {
                "title": figure._suptitle.get_text() if figure._suptitle else None,
                "xlabel": axis.get_xlabel(),
                "ylabel": axis.get_ylabel(),
                "lines": [
                    (line.get_label(), line.get_xdata(), line.get_ydata(), line.get_markersize())
                    for line in axis.get_lines()
                ],
                "legend": [text.get_text() for text in axis.get_legend().get_texts()],
            }
        )
        return save(figure, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", record)
    return seen


def test_metric_curves_draw_each_curve_against_the_steps(tmp_path, saved_figures):
    steps = [0, 5, 10]
    curves = {"FID": [30.0, 20.0, 15.0], "KID": [3.0, 2.5, 2.0]}
    path = tmp_path / "m.png"
    assert plotting.metric_curves(steps, curves, path) == path
    (figure,) = saved_figures
    assert (figure["title"], figure["xlabel"], figure["ylabel"]) == (None, "refinement step", "metric")
    assert [label for label, *_ in figure["lines"]] == ["FID", "KID"] == figure["legend"]
    for (_, x, y, marker_size), values in zip(figure["lines"], curves.values(), strict=True):
        np.testing.assert_array_equal(x, steps)
        np.testing.assert_array_equal(y, values)
        assert marker_size == 3
    # 4.5 x 3.2 inches at 100 dpi.
    with Image.open(path) as image:
        assert image.size == (450, 320)


def test_metric_curves_title_and_label(tmp_path, saved_figures):
    plotting.metric_curves(
        [1, 2], {"HQ": [0.5, 0.9]}, tmp_path / "m.png", ylabel="HQ %", title="25 Gaussians"
    )
    assert (saved_figures[0]["title"], saved_figures[0]["ylabel"]) == ("25 Gaussians", "HQ %")


def test_metric_curves_refuse_no_curves_and_curves_of_another_length(tmp_path):
    with pytest.raises(ValueError, match=r"^`curves` must hold at least one curve\.$"):
        plotting.metric_curves([0, 1], {}, tmp_path / "m.png")
    with pytest.raises(ValueError, match=r"Curve 'FID' has \(3,\) values for \(2,\) steps"):
        plotting.metric_curves([0, 1], {"FID": [1.0, 2.0, 3.0]}, tmp_path / "m.png")
