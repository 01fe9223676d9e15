"""Figures with matplotlib (Agg backend, files only: works headless and in CI).

Examples:
    >>> import numpy as np
    >>> path = scatter_grid({"base": np.random.default_rng(0).normal(size=(10, 2))}, "/tmp/scatter.png")
"""

import math

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(plt, figure, path, title):
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def scatter_grid(panels, path, reference=None, columns=4, limits=None, title=None, point_size=2.0):
    """Writes one 2-D scatter panel per named sample set to a PNG.

    Args:
        panels: dict `{name: [n, 2] array}`, drawn in order.
        path: output `.png` path.
        reference: optional `[m, 2]` array (e.g. held-out data) drawn in grey
            behind every panel.
        columns: panels per row. Defaults to `4`.
        limits: `(low, high)` for both axes, or `None` to fit the data.
        title: optional figure title.
        point_size: marker area. Defaults to `2.0`.

    Returns:
        `path`.

    Raises:
        ValueError: for an empty `panels` or a panel that is not `[n, 2]`.
    """
    if not panels:
        raise ValueError("`panels` must hold at least one sample set.")
    for name, points in panels.items():
        points = np.asarray(points)
        if points.ndim != 2 or points.shape[1] != 2:
            raise ValueError(f"Panel {name!r} must have shape [n, 2]. Received: shape {points.shape}")
    plt = _pyplot()
    rows = math.ceil(len(panels) / columns)
    columns = min(columns, len(panels))
    figure, axes = plt.subplots(rows, columns, figsize=(3.0 * columns, 3.0 * rows), squeeze=False)
    if limits is None:
        stacked = np.concatenate([np.asarray(p) for p in panels.values()])
        low, high = np.percentile(stacked, [0.5, 99.5])
        pad = 0.1 * (high - low)
        limits = (low - pad, high + pad)
    for axis in axes.flat:
        axis.set_visible(False)
    for axis, (name, points) in zip(axes.flat, panels.items(), strict=False):
        axis.set_visible(True)
        if reference is not None:
            axis.scatter(*np.asarray(reference).T, s=point_size, c="0.8", linewidths=0)
        axis.scatter(*np.asarray(points).T, s=point_size, c="tab:blue", linewidths=0)
        axis.set_title(name, fontsize=10)
        axis.set_xlim(limits)
        axis.set_ylim(limits)
        axis.set_aspect("equal")
        axis.set_xticks([])
        axis.set_yticks([])
    return _save(plt, figure, path, title)


def tile_images(images, columns=8, padding=1):
    """Tiles `[n, h, w, c]` images in `[-1, 1]` into one array in `[0, 1]`.

    Images are separated by `padding` pixels of mid grey, so that dark
    backgrounds of neighbouring images do not merge; empty cells are white.

    Returns:
        `[rows * (h + padding) - padding, columns * (w + padding) - padding, c]`.

    Raises:
        ValueError: for images that are not 4-D.
    """
    images = np.asarray(images, dtype="float64")
    if images.ndim != 4:
        raise ValueError(f"`images` must be 4-D [n, height, width, channels]. Received shape {images.shape}")
    count, height, width, channels = images.shape
    rows = math.ceil(count / columns)
    step_y, step_x = height + padding, width + padding
    canvas = np.full((rows * step_y - padding, columns * step_x - padding, channels), 0.5)
    for index in range(count, rows * columns):
        row, column = divmod(index, columns)
        canvas[row * step_y : row * step_y + height, column * step_x : column * step_x + width] = 1.0
    for index, image in enumerate(np.clip((images + 1.0) / 2.0, 0.0, 1.0)):
        row, column = divmod(index, columns)
        canvas[row * step_y : row * step_y + height, column * step_x : column * step_x + width] = image
    return canvas


def image_grid(panels, path, columns=8, title=None):
    """Writes side-by-side image grids (e.g. base vs refined) to a PNG.

    Each panel tiles its images `columns` across; pixel values in `[-1, 1]`
    are shown in grey scale (or colour for 3 channels) without smoothing.
    Values outside `[-1, 1]` are shown at the nearest end of the range; the
    arrays themselves are not changed.

    Args:
        panels: dict `{name: [n, h, w, c] array}`, drawn left to right.
        path: output `.png` path.
        columns: images per row in each panel. Defaults to `8`.
        title: optional figure title.

    Returns:
        `path`.

    Raises:
        ValueError: for an empty `panels` or images that are not 4-D.
    """
    if not panels:
        raise ValueError("`panels` must hold at least one image set.")
    tiles = {name: tile_images(images, columns) for name, images in panels.items()}
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(tiles), figsize=(3.2 * len(tiles), 3.6), squeeze=False)
    for axis, (name, tile) in zip(axes.flat, tiles.items(), strict=True):
        axis.imshow(
            tile[..., 0] if tile.shape[-1] == 1 else tile,
            cmap="gray",
            vmin=0.0,
            vmax=1.0,
            interpolation="nearest",
        )
        axis.set_title(name, fontsize=10)
        axis.set_xticks([])
        axis.set_yticks([])
    return _save(plt, figure, path, title)


def metric_curves(steps, curves, path, ylabel="metric", title=None):
    """Writes metric-versus-step curves (e.g. FID every 5 steps) to a PNG.

    Args:
        steps: `[n]` refinement steps, e.g. `RefinementResult.trajectory_steps`.
        curves: dict `{label: [n] values}`, e.g. `RefinementResult.metric_trajectory`
            or one entry per method.
        path: output `.png` path.
        ylabel: y-axis label. Defaults to `"metric"`.
        title: optional figure title.

    Returns:
        `path`.

    Raises:
        ValueError: for no curves, or a curve whose length differs from `steps`.

    Examples:
        >>> path = metric_curves([0, 5, 10], {"FID": [30.0, 20.0, 15.0]}, "/tmp/fid.png")
    """
    steps = np.asarray(steps)
    if not curves:
        raise ValueError("`curves` must hold at least one curve.")
    for label, values in curves.items():
        if np.shape(values) != steps.shape:
            raise ValueError(
                f"Curve {label!r} has {np.shape(values)} values for {steps.shape} steps; "
                "pass one value per step."
            )
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(4.5, 3.2))
    for label, values in curves.items():
        axis.plot(steps, values, marker="o", markersize=3, label=label)
    axis.set_xlabel("refinement step")
    axis.set_ylabel(ylabel)
    axis.grid(alpha=0.3)
    axis.legend()
    return _save(plt, figure, path, title)


def sweep_curves(curves, path, ylabel="score", title=None, xlabel="step size"):
    """Writes scores against step sizes (log axis), one line per named curve, to a PNG.

    Args:
        curves: dict `{label: [(step_size, score or None), ...]}`; `None`
            marks a setting that diverged, drawn as a cross on the lower edge.
        path: output `.png` path.
        ylabel: the y-axis label. Defaults to `"score"`.
        title: optional title. Defaults to a note on the crosses.
        xlabel: the x-axis label (log scale). Defaults to `"step size"`.

    Returns:
        `path`.
    """
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(5.5, 3.8))
    scores = [score for points in curves.values() for _, score in points if score is not None]
    floor = min(scores) if scores else 0.0
    for label, points in curves.items():
        good = [(x, y) for x, y in points if y is not None]
        line = axis.plot([x for x, _ in good], [y for _, y in good], "o-", label=label or None)[0]
        bad = [x for x, y in points if y is None]
        if bad:
            axis.plot(bad, [floor] * len(bad), "x", color=line.get_color(), markersize=9)
    axis.set_xscale("log")
    # Label the values swept, plainly: a log axis's own labels between decades (3x10^0, 4x10^0)
    # overlap, and its decades alone would leave a sweep of 2, 5, 10, 25 with one label.
    swept = sorted({x for points in curves.values() for x, _ in points})
    if swept:
        axis.set_xticks(swept, [f"{x:g}" for x in swept], rotation=45, fontsize=8)
        axis.set_xticks([], minor=True)
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    if any(curves):
        axis.legend(fontsize=7)
    axis.grid(alpha=0.3)
    return _save(plt, figure, path, title or "step-size sweep (x: diverged)")
