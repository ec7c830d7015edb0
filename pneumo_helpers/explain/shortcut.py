"""The "Clever Hans" shortcut experiment: plant a marker, see whether the maps find it.

:func:`stamp_marker` draws a side marker (:data:`LETTER_R` by default) into images,
:func:`marker_region` gives the box it occupies, and :func:`mass_inside` measures the share
of an explanation map that falls inside that box.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .inputs import ExplainError

#: A 7 x 5 letter "R", the side marker radiographers put on X-rays (1 = ink).
LETTER_R = np.array(
    [
        [1, 1, 1, 1, 0],
        [1, 0, 0, 0, 1],
        [1, 0, 0, 0, 1],
        [1, 1, 1, 1, 0],
        [1, 0, 1, 0, 0],
        [1, 0, 0, 1, 0],
        [1, 0, 0, 0, 1],
    ],
    dtype=bool,
)


def marker_region(
    image_shape: Sequence[int], corner: tuple[int, int] = (2, 2), marker: np.ndarray = LETTER_R
) -> np.ndarray:
    """Return the boolean ``(H, W)`` mask of the box :func:`stamp_marker` draws in."""
    height, width = int(image_shape[0]), int(image_shape[1])
    top, left = corner
    rows, cols = marker.shape
    if top < 0 or left < 0 or top + rows > height or left + cols > width:
        raise ExplainError(
            f"a {rows}×{cols} marker at corner={corner} does not fit a {height}×{width} image."
        )
    mask = np.zeros((height, width), dtype=bool)
    mask[top : top + rows, left : left + cols] = True
    return mask


def stamp_marker(
    images,
    corner: tuple[int, int] = (2, 2),
    marker: np.ndarray = LETTER_R,
    value: int | float = 255,
) -> np.ndarray:
    """Return a copy of ``images`` ``(N, H, W[, C])`` with ``marker`` drawn in at ``corner``.

    The default draws a bright 7 × 5 letter "R" near the top-left corner, like the side
    marker a radiographer places on a film. Only the marker's ink pixels change.
    """
    images = np.array(images, copy=True)
    if images.ndim not in (3, 4):
        raise ExplainError(f"images must be (N, H, W) or (N, H, W, C), got {images.shape}.")
    box = marker_region(images.shape[1:3], corner, marker)
    ink = np.zeros_like(box)
    ink[box] = np.asarray(marker, dtype=bool).ravel()
    images[:, ink] = value
    return images


def mass_inside(maps, region) -> np.ndarray:
    """Return the share of each map's total that lies inside ``region``, ``(N,)``.

    Compare it with ``region.mean()``, the region's share of the image's area: a map that
    ignored the region would put about that share inside it. Negative values (e.g. of
    :func:`occlusion_sensitivity`) count as 0; an all-zero map gives 0.
    """
    maps = np.clip(np.asarray(maps, dtype="float64"), 0.0, None)
    region = np.asarray(region, dtype=bool)
    if maps.ndim != 3 or maps.shape[1:] != region.shape:
        raise ExplainError(
            f"maps must be (N, H, W) with (H, W) = region's shape {region.shape}, got {maps.shape}."
        )
    total = maps.sum(axis=(1, 2))
    inside = maps[:, region].sum(axis=1)
    return np.divide(inside, total, out=np.zeros_like(total), where=total > 0)
