"""Plots: what is drawn (read back from the figure as it is saved) and the PNG's size."""

import matplotlib.figure
import numpy as np
import pytest
from PIL import Image

from dgflow_tf import plotting


def _record_saves(monkeypatch, snapshot):
    """`snapshot(figure)` of every figure `savefig` is called on, taken just before it is saved."""
    seen = []
    save = matplotlib.figure.Figure.savefig

    def record(figure, *args, **kwargs):
        seen.append(snapshot(figure))
        return save(figure, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", record)
    return seen


@pytest.fixture
def saved_figures(monkeypatch):
    """The figures `savefig` is called on, with what their axes hold at that moment."""

    def snapshot(figure):
        axis = figure.axes[0]
        return {
            "title": figure._suptitle.get_text() if figure._suptitle else None,
            "xlabel": axis.get_xlabel(),
            "ylabel": axis.get_ylabel(),
            "lines": [
                (line.get_label(), line.get_xdata(), line.get_ydata(), line.get_markersize())
                for line in axis.get_lines()
            ],
            "legend": [text.get_text() for text in axis.get_legend().get_texts()],
        }

    return _record_saves(monkeypatch, snapshot)


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


@pytest.fixture
def saved_axes(monkeypatch):
    """Every axis of each figure `savefig` is called on, as drawn at that moment, and the figure size."""

    def snapshot(figure):
        axes = [
            {
                "title": axis.get_title(),
                "title_size": axis.title.get_fontsize(),
                "xlim": axis.get_xlim(),
                "ylim": axis.get_ylim(),
                "images": [
                    (np.asarray(im.get_array()), im.get_interpolation(), im.get_clim(), im.cmap.name)
                    for im in axis.get_images()
                ],
            }
            for axis in figure.axes
            if axis.get_visible()
        ]
        return {"size": tuple(figure.get_size_inches()), "axes": axes}

    return _record_saves(monkeypatch, snapshot)


def test_image_grid_shows_each_panels_tiles_unsmoothed_in_grey_at_a_size_per_panel(tmp_path, saved_axes):
    rng = np.random.default_rng(0)
    panels = {"base": rng.uniform(-1, 1, (6, 5, 7, 1)), "refined": rng.uniform(-1, 1, (6, 5, 7, 1))}
    # Another default font size: the panel titles stay at 10 points whatever the user's style.
    with matplotlib.rc_context({"font.size": 7}):
        plotting.image_grid(panels, str(tmp_path / "grid.png"), columns=3)
    (figure,) = saved_axes
    assert figure["size"] == pytest.approx((3.2 * 2, 3.6))  # 3.2 inches a panel, whatever the default
    assert [axis["title"] for axis in figure["axes"]] == ["base", "refined"]
    for axis, images in zip(figure["axes"], panels.values(), strict=True):
        assert axis["title_size"] == 10
        ((array, interpolation, clim, cmap),) = axis["images"]
        # One channel is drawn as a 2-D grey image of the tiles: [0, 1] is black to white, no smoothing.
        np.testing.assert_array_equal(array, plotting.tile_images(images, 3)[..., 0])
        assert (interpolation, clim, cmap) == ("nearest", (0.0, 1.0), "gray")


def test_scatter_grid_fits_its_limits_to_the_points_unless_given(tmp_path, saved_axes):
    rng = np.random.default_rng(1)
    panels = {"a": rng.normal(size=(400, 2)), "b": rng.normal(3.0, 0.5, size=(400, 2))}
    plotting.scatter_grid(panels, str(tmp_path / "fit.png"))
    # The 0.5 and 99.5 percentiles of every coordinate of every panel, widened by a tenth each way.
    low, high = np.percentile(np.concatenate(list(panels.values())), [0.5, 99.5])
    pad = 0.1 * (high - low)
    for axis in saved_axes[0]["axes"]:
        assert axis["xlim"] == pytest.approx((low - pad, high + pad))
        assert axis["ylim"] == pytest.approx((low - pad, high + pad))
        assert axis["title_size"] == 10
    plotting.scatter_grid(panels, str(tmp_path / "given.png"), limits=(-2.0, 5.0))
    assert {(axis["xlim"], axis["ylim"]) for axis in saved_axes[1]["axes"]} == {((-2.0, 5.0), (-2.0, 5.0))}


def test_sweep_curves_title_says_what_the_crosses_mean_unless_given(tmp_path, saved_figures):
    curves = {"KL": [(0.01, 1.0), (0.1, None)]}
    plotting.sweep_curves(curves, str(tmp_path / "a.png"))
    plotting.sweep_curves(curves, str(tmp_path / "b.png"), title="mine")
    assert [figure["title"] for figure in saved_figures] == ["step-size sweep (x: diverged)", "mine"]
    # The diverged setting is a cross on the lower edge (the lowest score), apart from the line.
    (_, x, y, _), (_, crosses_x, crosses_y, _) = saved_figures[0]["lines"]
    assert (list(x), list(y), list(crosses_x), list(crosses_y)) == ([0.01], [1.0], [0.1], [1.0])


def test_sweep_curves_label_the_swept_values_plainly_and_nothing_between(tmp_path, monkeypatch):
    # A log axis labels 3x10^0, 4x10^0 ... between decades, which overlapped on quality_per_eval.png.
    def ticks(figure):
        axis = figure.axes[0]
        labels = [label.get_text() for label in axis.get_xticklabels()]
        major = list(zip(axis.get_xticks(), labels, strict=True))
        minor = [label.get_text() for label in axis.get_xticklabels(minor=True)]
        sizes = {label.get_fontsize() for label in axis.get_xticklabels()}
        return major, minor, sizes, axis.get_xlabel()

    seen = _record_saves(monkeypatch, ticks)
    curves = {"adaptive": [(2, 40.0), (5, 80.0), (25, 93.0)], "Euler": [(10, 88.0), (25, None)]}
    # Another default font size: the labels stay small, at 8 points, so that slanted they do not overlap.
    with matplotlib.rc_context({"font.size": 12}):
        plotting.sweep_curves(curves, str(tmp_path / "q.png"), xlabel="evaluations")
    ((major, minor, sizes, xlabel),) = seen
    assert major == [(2, "2"), (5, "5"), (10, "10"), (25, "25")]
    assert [text for text in minor if text] == []
    assert (sizes, xlabel) == ({8.0}, "evaluations")


def test_tile_images_puts_eight_images_a_row_by_default_in_grey_frames_with_white_empty_cells():
    images = np.stack([np.full((2, 3, 1), value) for value in np.linspace(-1.0, 1.0, 10)])
    canvas = plotting.tile_images(images)
    # Two rows of eight 2x3 cells one pixel apart: (2 * 3 - 1) x (8 * 4 - 1).
    assert canvas.shape == (5, 31, 1)
    # Image i sits at row i // 8, column i % 8, mapped from [-1, 1] to [0, 1].
    np.testing.assert_allclose(canvas[3, 4, 0], (images[9, 0, 0, 0] + 1) / 2)
    np.testing.assert_allclose(canvas[0, 28, 0], (images[7, 0, 0, 0] + 1) / 2)
    assert canvas[2, 0, 0] == 0.5 and canvas[3, 8, 0] == 1.0  # a grey gap; an empty cell
