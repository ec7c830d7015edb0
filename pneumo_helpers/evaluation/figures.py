"""Plots of scores: ROC, precision-recall, confusion matrix and reliability curves.

Axes speak clinical words (sensitivity, not TPR alone); the style is the course's one
(:mod:`pneumo_helpers.plots`). The axes of a plot of two rates are finished in one place,
:func:`finish_rate_axes` (labels, limits, legend), and a reliability plot's in
:func:`finish_reliability_axes`, which :mod:`pneumo_helpers.fairness` uses too.
"""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

from .. import plots
from .metrics import binary_metrics, check_binary


def finish_rate_axes(ax, *, xlabel: str, ylabel: str, title: str | None = None, legend: str):
    """Label a plot of two rates or probabilities (each 0 to 1) and place its legend.

    Call it after drawing every curve, so the legend lists them all.

    Args:
        ax: the axes drawn on.
        xlabel: the horizontal axis's label, in clinical words.
        ylabel: the vertical axis's label, in clinical words.
        title: the title, or None to leave the axes' title as it is.
        legend: where the legend goes, e.g. ``"lower right"``.

    Returns:
        ``ax``.
    """
    titled = {} if title is None else {"title": title}
    ax.set(xlabel=xlabel, ylabel=ylabel, **titled, xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc=legend)
    return ax


def finish_reliability_axes(ax, *, title: str | None = None):
    """Draw the diagonal of perfect calibration and label a reliability plot's axes.

    Call it after drawing the reliability curves (observed share against mean score).

    Args:
        ax: the axes drawn on.
        title: the title, or None to leave the axes' title as it is.

    Returns:
        ``ax``.
    """
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    return finish_rate_axes(
        ax,
        xlabel="Mean predicted probability of pneumonia",
        ylabel="Observed share with pneumonia",
        title=title,
        legend="upper left",
    )


def plot_roc(y_true, y_score, *, ax=None, label: str | None = None, threshold: float | None = None):
    """Plot the ROC curve as sensitivity against 1 − specificity, marking a threshold."""
    y_true, y_score = check_binary(y_true, y_score)
    ax = plots.new_axes(ax)
    fpr, tpr, _ = skm.roc_curve(y_true, y_score)
    auc = skm.roc_auc_score(y_true, y_score)
    ax.plot(fpr, tpr, label=f"{label or 'model'} (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    if threshold is not None:
        m = binary_metrics(y_true, y_score, threshold)
        ax.scatter(
            [1 - m["specificity"]],
            [m["sensitivity"]],
            color="black",
            zorder=3,
            label=f"threshold {threshold:.2f}",
        )
    return finish_rate_axes(
        ax,
        xlabel="1 − specificity (share of normal X-rays flagged)",
        ylabel="Sensitivity (share of pneumonia found)",
        title="ROC curve",
        legend="lower right",
    )


def plot_precision_recall(y_true, y_score, *, ax=None, label: str | None = None):
    """Plot precision (PPV) against sensitivity (recall), with the prevalence baseline."""
    y_true, y_score = check_binary(y_true, y_score)
    ax = plots.new_axes(ax)
    precision, recall, _ = skm.precision_recall_curve(y_true, y_score)
    ap = skm.average_precision_score(y_true, y_score)
    ax.plot(recall, precision, label=f"{label or 'model'} (AP {ap:.3f})")
    ax.axhline(y_true.mean(), linestyle="--", color="grey", label="prevalence (chance)")
    return finish_rate_axes(
        ax,
        xlabel="Sensitivity (recall)",
        ylabel="Precision (positive predictive value)",
        title="Precision–recall curve",
        legend="lower left",
    )


def plot_confusion_matrix(y_true, y_score, threshold: float = 0.5, *, ax=None):
    """Plot the confusion matrix at a threshold, with counts and row percentages."""
    m = binary_metrics(y_true, y_score, threshold)
    ax = plots.new_axes(ax)
    counts = np.array([[m["tn"], m["fp"]], [m["fn"], m["tp"]]])
    shares = counts / counts.sum(axis=1, keepdims=True)
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for i in range(2):
        for j in range(2):
            ax.text(
                j,
                i,
                f"{counts[i, j]}\n({shares[i, j]:.0%})",
                ha="center",
                va="center",
                color="white" if shares[i, j] > 0.5 else "black",
            )
    ax.set_xticks([0, 1], ["normal", "pneumonia"])
    ax.set_yticks([0, 1], ["normal", "pneumonia"])
    ax.set(
        xlabel="Model says",
        ylabel="Truth",
        title=f"Confusion matrix at threshold {threshold:.2f}",
    )
    ax.grid(False)
    return ax


def plot_calibration(y_true, y_score, *, n_bins: int = 10, ax=None, label: str | None = None):
    """Plot a reliability curve: observed pneumonia rate against the mean predicted score."""
    from sklearn.calibration import calibration_curve

    y_true, y_score = check_binary(y_true, y_score)
    ax = plots.new_axes(ax)
    observed, predicted = calibration_curve(y_true, y_score, n_bins=n_bins, strategy="quantile")
    brier = skm.brier_score_loss(y_true, y_score)
    ax.plot(predicted, observed, marker="o", label=f"{label or 'model'} (Brier {brier:.3f})")
    return finish_reliability_axes(ax, title="Calibration (reliability) curve")
