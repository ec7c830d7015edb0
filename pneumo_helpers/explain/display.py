"""Display: a heat map blended over its grey X-ray, for any of the explanation maps."""

from __future__ import annotations

import numpy as np

from .inputs import ExplainError


def overlay(image, heatmap, alpha: float = 0.45, cmap: str = "jet") -> np.ndarray:
    """Blend a heat map over a grey image for display; return an RGB ``(H, W, 3)`` in [0, 1].

    Args:
        image: ``(H, W)`` or ``(H, W, 1)`` grey image, ``uint8`` or floats (scaled to [0, 1]
            by its own range).
        heatmap: ``(H, W)`` map in [0, 1], e.g. one of :func:`grad_cam`'s.
        alpha: weight of the heat map's colours (0 shows only the X-ray, 1 only the map).
        cmap: a matplotlib colour map name.
    """
    import matplotlib

    image = np.asarray(image, dtype="float64")
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    heatmap = np.asarray(heatmap, dtype="float64")
    if image.ndim != 2:
        raise ExplainError(f"image must be one grey (H, W) image, got shape {image.shape}.")
    if heatmap.shape != image.shape:
        raise ExplainError(
            f"heatmap has shape {heatmap.shape} but the image {image.shape}: compute the map "
            "at the image's resolution (grad_cam does) or resize it first."
        )
    if not 0.0 <= alpha <= 1.0:
        raise ExplainError(f"alpha must be in [0, 1], got {alpha}.")
    low, high = image.min(), image.max()
    grey = (image - low) / (high - low) if high > low else np.zeros_like(image)
    colours = matplotlib.colormaps[cmap](np.clip(heatmap, 0.0, 1.0))[..., :3]
    return (1.0 - alpha) * grey[..., np.newaxis] + alpha * colours
