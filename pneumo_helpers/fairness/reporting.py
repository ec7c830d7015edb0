"""Reporting: plots of an audit and a model card written from it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .. import plots
from ..evaluation.figures import finish_reliability_axes
from .audit import METRIC_LABELS, OVERALL, RATE_METRICS
from .groups import FairnessInputError, check_inputs, group_order


def plot_underdiagnosis(
    audits: Mapping[str, pd.DataFrame] | pd.DataFrame,
    metric: str = "fnr",
    *,
    ax=None,
    label: str | None = None,
    offset: float = 0.0,
    color: str | None = None,
    show_overall: bool = True,
):
    """Plot a metric by group with its intervals, in the style of Seyyed-Kalantari et al.

    One point per subgroup with its confidence interval, subgroups grouped by attribute
    (sex, age band, site, ...), and a dashed line at the overall rate. The default metric
    is the underdiagnosis rate (false-negative rate). Call again on the same ``ax`` with
    another ``label`` and a small ``offset`` to compare models (before and after a
    mitigation).

    Args:
        audits: ``{attribute: audit table}``, or one audit table.
        metric: an audit metric, e.g. ``"fnr"`` or ``"sensitivity"``.
        ax: axes to draw on; default a new figure.
        label: legend label of this series.
        offset: horizontal shift of the points (e.g. ±0.15 for two series).
        color: the points' colour.
        show_overall: draw the overall rate as a dashed line.

    Returns:
        The axes.
    """
    if isinstance(audits, pd.DataFrame):
        audits = {audits.index.name or "group": audits}
    if metric not in RATE_METRICS:
        raise FairnessInputError(f"metric must be one of {RATE_METRICS}, got {metric!r}.")
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(max(6.0, 0.8 * sum(len(t) for t in audits.values())), 4.2))
    ax = plots.new_axes(ax)
    positions, names, boundaries = [], [], []
    x = 0.0
    overall_value = None
    for attribute, table in audits.items():
        rows = table.drop(index=OVERALL, errors="ignore")
        if OVERALL in table.index and overall_value is None:
            overall_value = table.loc[OVERALL, metric]
        start = x
        for group in rows.index:
            positions.append(x)
            names.append(str(group))
            x += 1.0
        boundaries.append((start, x - 1.0, attribute))
        x += 0.6
    values = np.concatenate(
        [t.drop(index=OVERALL, errors="ignore")[metric].to_numpy() for t in audits.values()]
    )
    lows = np.concatenate(
        [
            t.drop(index=OVERALL, errors="ignore")[f"{metric}_low"].to_numpy()
            for t in audits.values()
        ]
    )
    highs = np.concatenate(
        [
            t.drop(index=OVERALL, errors="ignore")[f"{metric}_high"].to_numpy()
            for t in audits.values()
        ]
    )
    errors = np.vstack([values - lows, highs - values])
    errors = np.where(np.isfinite(errors), np.maximum(errors, 0), 0)
    container = ax.errorbar(
        np.asarray(positions) + offset,
        values,
        yerr=errors,
        fmt="o",
        capsize=4,
        color=color,
        label=label,
    )
    if show_overall and overall_value is not None and np.isfinite(overall_value):
        ax.axhline(
            overall_value,
            linestyle="--",
            color=container[0].get_color(),
            linewidth=1,
            alpha=0.7,
            label=f"overall{f' ({label})' if label else ''}",
        )
    ax.set_xticks(positions, names, rotation=30, ha="right")
    for start, end, attribute in boundaries:
        ax.text(
            (start + end) / 2,
            1.02,
            attribute,
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="bottom",
            fontsize=9,
            fontweight="bold",
        )
        if start > 0:
            ax.axvline(start - 0.8, color="lightgrey", linewidth=1)
    confidence = next(iter(audits.values())).attrs.get("confidence", 0.95)
    ax.set(
        ylabel=f"{METRIC_LABELS[metric]}\n(point and {confidence:.0%} interval)",
        xlim=(-0.7, positions[-1] + 0.7),
    )
    ax.grid(False, axis="x")  # the vertical lines separate attributes, not groups
    ax.legend(loc="best")
    return ax


def plot_calibration_by_group(y_true, y_score, groups, *, n_bins: int = 8, ax=None):
    """Plot one reliability curve per group (quantile bins) against the diagonal."""
    from sklearn.calibration import calibration_curve

    categories = getattr(getattr(groups, "cat", None), "categories", None)
    y_true, y_score, group_array = check_inputs(y_true, y_score, groups)
    ax = plots.new_axes(ax)
    for group in group_order(group_array, categories):
        members = group_array == group
        if np.unique(y_true[members]).size < 2:
            continue
        bins = max(2, min(n_bins, int(members.sum()) // 20))
        observed, predicted = calibration_curve(
            y_true[members], y_score[members], n_bins=bins, strategy="quantile"
        )
        ax.plot(predicted, observed, marker="o", label=f"{group} (n={int(members.sum())})")
    return finish_reliability_axes(ax)


# --------------------------------------------------------------------------------------
# Model card
# --------------------------------------------------------------------------------------


def _interval_text(row: pd.Series, metric: str) -> str:
    value, low, high = row[metric], row[f"{metric}_low"], row[f"{metric}_high"]
    if not np.isfinite(value):
        return "n/a"
    if np.isfinite(low) and np.isfinite(high):
        return f"{value:.3f} ({low:.3f}–{high:.3f})"
    return f"{value:.3f}"


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _bullets(items: str | Sequence[str]) -> str:
    if isinstance(items, str):
        return items
    return "\n".join(f"- {item}" for item in items)


def model_card(
    audits: Mapping[str, pd.DataFrame],
    *,
    model_name: str,
    intended_use: str | Sequence[str],
    data: str | Sequence[str],
    limitations: str | Sequence[str],
    out_of_scope: str | Sequence[str] = (),
    details: str | Sequence[str] = (),
    metrics: Sequence[str] = ("auc", "sensitivity", "specificity", "fnr", "ppv"),
    gaps: pd.DataFrame | Mapping[str, pd.DataFrame] | None = None,
) -> str:
    """Write a model card (Mitchell et al. 2019) in Markdown from audit tables.

    Args:
        audits: ``{attribute: audit table}`` from :func:`audit`; the overall metrics come
            from the first table's ``overall`` row.
        model_name: the model's name, used as the card's title.
        intended_use, data, limitations, out_of_scope, details: text or bullet lists.
        metrics: audit metrics to report, each as "value (interval)".
        gaps: optional :func:`gap_summary` tables, ``{attribute: table}`` (or one table);
            the card names the metrics and attributes compared and lists the gaps whose
            interval excludes zero, so its statement covers exactly what was examined.

    Returns:
        The card as a Markdown string (display it with ``IPython.display.Markdown``).
    """
    if not audits:
        raise FairnessInputError("audits is empty; pass {attribute: audit(...) table}.")
    unknown = [m for m in metrics if m not in RATE_METRICS]
    if unknown:
        raise FairnessInputError(f"metrics {unknown} are not audit metrics; use {RATE_METRICS}.")
    first = next(iter(audits.values()))
    confidence = first.attrs.get("confidence", 0.95)
    header_metrics = [METRIC_LABELS[m] for m in metrics]
    overall = first.loc[OVERALL]
    group_thresholds_used = first.drop(index=OVERALL, errors="ignore")["threshold"]
    if np.allclose(group_thresholds_used, overall["threshold"]):
        threshold_text = f"threshold {overall['threshold']:.3f}"
    else:
        threshold_text = (
            "group-specific thresholds ("
            + ", ".join(f"{group} {value:.3f}" for group, value in group_thresholds_used.items())
            + ")"
        )
    wilson = [_lower_label(m) for m in metrics if m in first.attrs.get("wilson", ())]
    interval_text = f"values with {confidence:.0%} bootstrap intervals"
    if wilson:
        interval_text = (
            f"{', '.join(wilson)} with {confidence:.0%} Wilson intervals, the rest with "
            f"{confidence:.0%} bootstrap intervals"
        )
    sections = [f"# Model card: {model_name}"]
    if details:
        sections += ["## Model details", _bullets(details)]
    sections += ["## Intended use", _bullets(intended_use)]
    if out_of_scope:
        sections += ["## Out of scope", _bullets(out_of_scope)]
    sections += ["## Data", _bullets(data)]
    sections += [
        "## Overall performance",
        f"Test split, n = {int(overall['n'])}, prevalence {overall['prevalence']:.1%}, "
        f"{threshold_text}; {interval_text}.",
        _markdown_table(header_metrics, [[_interval_text(overall, m) for m in metrics]]),
        "## Performance by group",
    ]
    for attribute, table in audits.items():
        rows = []
        for group, row in table.drop(index=OVERALL, errors="ignore").iterrows():
            rows.append(
                [str(group), int(row["n"]), f"{row['prevalence']:.1%}"]
                + [_interval_text(row, m) for m in metrics]
            )
        sections += [
            f"### By {attribute}",
            _markdown_table(["group", "n", "prevalence", *header_metrics], rows),
        ]
    if gaps is not None:
        sections += ["## Gaps supported by the data", _gap_section(gaps, metrics)]
    sections += ["## Limitations and ethical considerations", _bullets(limitations)]
    return "\n\n".join(sections) + "\n"


def _lower_label(metric: str) -> str:
    label = METRIC_LABELS[metric]
    return label if label.isupper() else label.lower()


def _gap_section(gaps: pd.DataFrame | Mapping[str, pd.DataFrame], reported: Sequence[str]) -> str:
    """The model card's gap statement: what was compared, and which gaps the data support."""
    tables = {"group": gaps} if isinstance(gaps, pd.DataFrame) else dict(gaps)
    if not tables:
        raise FairnessInputError("gaps is empty; pass {attribute: gap_summary(...) table}.")
    examined = list(dict.fromkeys(m for t in tables.values() for m in t.index.unique("metric")))
    confidence = next(iter(tables.values())).attrs.get("confidence", 0.95)
    n_compared = sum(
        int((t["reference"] != t.index.get_level_values("group")).sum()) for t in tables.values()
    )
    n_newcombe = sum(
        int((t["interval"] == "Newcombe").sum()) for t in tables.values() if "interval" in t
    )
    method = f"each with a {confidence:.0%} bootstrap interval of the difference"
    if n_newcombe:
        method = (
            f"each with a {confidence:.0%} interval of the difference (bootstrap; Newcombe's, "
            f"from two Wilson intervals, for the {n_newcombe} where a rate is 0 or 1)"
        )
    paragraphs = [
        f"Compared: {', '.join(_lower_label(m) for m in examined)} of every group "
        f"against the best-served group of its attribute ({', '.join(tables)}); "
        f"{n_compared} comparisons, {method}."
    ]
    supported = [
        f"- {attribute}, {_lower_label(metric)}: {group} {row['value']:.3f} vs "
        f"{row['reference']} {row['reference_value']:.3f} (difference "
        f"{row['difference']:+.3f}, {confidence:.0%} interval {row['difference_low']:+.3f} to "
        f"{row['difference_high']:+.3f})"
        for attribute, table in tables.items()
        for (metric, group), row in table[table["excludes_zero"]].iterrows()
    ]
    if supported:
        header = f"Intervals that exclude zero ({len(supported)} of {n_compared}):"
        paragraphs.append("\n".join([header, "", *supported]))
    else:
        paragraphs.append(f"None of the {n_compared} intervals excludes zero.")
    unexamined = [_lower_label(m) for m in reported if m not in examined]
    if unexamined:
        paragraphs.append(f"Not compared between groups: {', '.join(unexamined)}.")
    return "\n\n".join(paragraphs)
