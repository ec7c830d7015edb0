"""One shared plot style, and the plots that are not about evaluation (images, training)."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

#: Colours for the two classes, used by every chapter.
CLASS_COLOURS = {"normal": "#1b9e77", "pneumonia": "#d95f02"}


def use_course_style() -> None:
    """Apply the course's matplotlib/seaborn style (call once at the top of a chapter)."""
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    plt.rcParams.update(
        {
            "figure.figsize": (6.4, 4.2),
            "figure.dpi": 100,
            "axes.titlesize": 12,
            "axes.titleweight": "bold",
            "axes.labelsize": 10,
            "legend.fontsize": 9,
            "legend.frameon": False,
            "image.cmap": "gray",
        }
    )


def new_axes(ax=None):
    """Return ``ax``, or the axes of a new figure when ``ax`` is None."""
    if ax is None:
        _, ax = plt.subplots()
    return ax


def image_grid(
    images: np.ndarray,
    titles: Sequence[str] | None = None,
    *,
    ncols: int = 8,
    size: float = 1.3,
    suptitle: str | None = None,
    cmap: str = "gray",
):
    """Show images in a grid (grey X-rays by default); return the figure."""
    images = np.asarray(images)
    if len(images) == 0:
        raise ValueError("image_grid needs at least one image.")
    ncols = max(1, min(ncols, len(images)))
    nrows = int(np.ceil(len(images) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * size * 1.15))
    axes = np.atleast_1d(axes).ravel()
    for i, ax in enumerate(axes):
        ax.axis("off")
        if i < len(images):
            image = images[i]
            if image.ndim == 3 and image.shape[-1] == 1:
                image = image[..., 0]
            ax.imshow(image, cmap=cmap, vmin=0, vmax=255 if image.dtype == np.uint8 else None)
            if titles is not None:
                ax.set_title(titles[i], fontsize=8, fontweight="normal")
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def plot_history(history: dict[str, list[float]], metrics: Sequence[str] = ("loss", "auc")):
    """Plot training and validation curves per epoch for the named metrics; return the figure."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.6))
    axes = np.atleast_1d(axes)
    for ax, name in zip(axes, metrics, strict=True):
        if name not in history:
            raise ValueError(f"history has no {name!r}; it has {sorted(history)}.")
        epochs = np.arange(1, len(history[name]) + 1)
        ax.plot(epochs, history[name], marker="o", label="training")
        if f"val_{name}" in history:
            ax.plot(epochs, history[f"val_{name}"], marker="o", label="validation")
        label = {"loss": "Binary cross-entropy", "auc": "ROC AUC", "accuracy": "Accuracy"}
        ax.set(
            xlabel="Epoch", ylabel=label.get(name, name), title=f"{label.get(name, name)} per epoch"
        )
        ax.legend()
    fig.tight_layout()
    return fig
