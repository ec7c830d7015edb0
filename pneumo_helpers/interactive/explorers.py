"""The course's interactive figures: each one a slider over a setting the chapter teaches.

* :func:`threshold_explorer` (chapter 2): the decision threshold against sensitivity,
  specificity, PPV and NPV, with the confusion matrix, and the validation-chosen
  threshold marked.
* :func:`prevalence_explorer` (chapter 2): prevalence against PPV and NPV at a fixed
  sensitivity and specificity.
* :func:`rounds_explorer` (chapter 8): a federation's global AUC round by round, the
  reference models (pooled, each hospital alone) toggled on and off in the legend.
* :func:`formats_explorer` (chapter 10): an edge model's file format against its size,
  latency and test AUC.

Each returns an :class:`~pneumo_helpers.interactive.figure.InteractiveFigure` whose
readouts are computed here from the chapter's own data; the chapter's tables compute the
same numbers with :mod:`pneumo_helpers.evaluation`, and the site's browser test compares
the two after moving each slider.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import seaborn

from .figure import InteractiveFigure, figure_png

#: Legends sit right of the plot, clear of the slider below it (a click there must move it).
RIGHT_LEGEND = {"x": 1.02, "y": 1, "xanchor": "left", "yanchor": "top"}

#: Colours of the lines: the colour-blind-safe palette of the course's matplotlib style
#: (pneumo_helpers.plots.use_course_style), so both renderings of a figure agree.
PALETTE = tuple(seaborn.color_palette("colorblind").as_hex())
#: Dash patterns of the reference lines, each with its own colour as well (plotly, matplotlib).
REFERENCE_DASHES = (("dot", ":"), ("dashdot", "-."), ("longdash", (0, (8, 3))))


def _reference_style(j: int, n_curves: int) -> tuple[str, str, object]:
    """Colour, plotly dash and matplotlib dash of reference line ``j`` (0: black, dashed)."""
    if j == 0:
        return "black", "dash", "--"
    colour = PALETTE[(n_curves + j - 1) % len(PALETTE)]
    plotly_dash, matplotlib_dash = REFERENCE_DASHES[(j - 1) % len(REFERENCE_DASHES)]
    return colour, plotly_dash, matplotlib_dash


def _vline(x: float, colour: str = "black", width: float = 2, dash: str | None = None) -> dict:
    """A vertical line across the plot at ``x`` (a Plotly shape); the sliders move shape 0."""
    line = {"color": colour, "width": width} | ({"dash": dash} if dash else {})
    return {"type": "line", "xref": "x", "yref": "y domain", "y0": 0, "y1": 1, "x0": x, "x1": x,
            "line": line}  # fmt: skip


def _check_probability(value: float, what: str) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0 or not np.isfinite(value):
        raise ValueError(f"{what} must lie between 0 and 1, got {value}.")
    return value


def ppv(sensitivity: float, specificity: float, prevalence: float) -> float:
    """Positive predictive value: the share of flagged X-rays that show pneumonia (Bayes)."""
    sensitivity = _check_probability(sensitivity, "sensitivity")
    specificity = _check_probability(specificity, "specificity")
    prevalence = _check_probability(prevalence, "prevalence")
    true_calls = sensitivity * prevalence
    false_calls = (1 - specificity) * (1 - prevalence)
    return true_calls / (true_calls + false_calls) if true_calls + false_calls else float("nan")


def npv(sensitivity: float, specificity: float, prevalence: float) -> float:
    """Negative predictive value: the share of X-rays called normal that are normal."""
    sensitivity = _check_probability(sensitivity, "sensitivity")
    specificity = _check_probability(specificity, "specificity")
    prevalence = _check_probability(prevalence, "prevalence")
    true_clear = specificity * (1 - prevalence)
    missed = (1 - sensitivity) * prevalence
    return true_clear / (true_clear + missed) if true_clear + missed else float("nan")


def _slider(labels: Sequence[str], steps: Sequence[dict], active: int, prefix: str) -> dict:
    return {
        "active": int(active),
        "currentvalue": {"prefix": prefix, "font": {"size": 13}},
        "transition": {"duration": 0},
        "pad": {"t": 45, "b": 10},
        "len": 1.0,
        "x": 0.0,
        "steps": [
            {"label": label, "method": "update", **step}
            for label, step in zip(labels, steps, strict=True)
        ],
    }


def _readout_annotation(text: str) -> dict:
    return {
        "name": "readout",
        "text": text,
        "xref": "paper",
        "yref": "paper",
        "x": 0.0,
        "y": 1.12,
        "xanchor": "left",
        "yanchor": "bottom",
        "showarrow": False,
        "align": "left",
        "font": {"size": 13},
    }


def _fmt(value: float) -> str:
    return "n/a" if not np.isfinite(value) else f"{value:.3f}"


def threshold_readout(metrics: Mapping[str, float]) -> str:
    """The line the threshold explorer shows for one threshold's metrics."""
    return (
        f"Threshold {metrics['threshold']:.2f}: sensitivity {_fmt(metrics['sensitivity'])}, "
        f"specificity {_fmt(metrics['specificity'])}, PPV {_fmt(metrics['precision'])}, "
        f"NPV {_fmt(metrics['npv'])}"
    )


def threshold_explorer(
    labels,
    scores,
    chosen_threshold: float,
    *,
    thresholds: Sequence[float] | None = None,
    split: str = "test",
    chosen_by: str = "chosen on validation",
) -> InteractiveFigure:
    """A threshold slider over one model's scores on one split.

    Args:
        labels, scores: the split's labels (1 = pneumonia) and the model's scores.
        chosen_threshold: the threshold chosen on validation, marked by a dashed line.
        thresholds: the slider's steps (default 0.05, 0.10, ..., 0.95).
        split: the split's name, for the titles.
    """
    import matplotlib.pyplot as plt
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from ..evaluation import binary_metrics, plot_confusion_matrix

    labels = np.asarray(labels)
    scores = np.asarray(scores, dtype=float)
    if labels.shape != scores.shape or labels.ndim != 1 or labels.size == 0:
        raise ValueError(
            f"labels and scores must be two 1-D arrays of one length, got shapes "
            f"{labels.shape} and {scores.shape}."
        )
    chosen_threshold = _check_probability(chosen_threshold, "chosen_threshold")
    if thresholds is None:
        thresholds = np.round(np.arange(0.05, 0.951, 0.05), 2)
    thresholds = [_check_probability(t, "every threshold") for t in thresholds]
    curve_t = np.round(np.linspace(0.0, 1.0, 101), 2)
    curve = [binary_metrics(labels, scores, t) for t in curve_t]
    steps = [binary_metrics(labels, scores, t) for t in thresholds]
    names = {"sensitivity": "Sensitivity", "specificity": "Specificity"}
    names |= {"precision": "PPV", "npv": "NPV"}

    def matrix(m):
        return [[m["tn"], m["fp"]], [m["fn"], m["tp"]]]

    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.62, 0.38],
        horizontal_spacing=0.12,
        subplot_titles=(f"Metrics on the {split} split", "Confusion matrix"),
    )
    for i, (key, label) in enumerate(names.items()):
        fig.add_trace(
            go.Scatter(
                x=curve_t,
                y=[m[key] for m in curve],
                mode="lines",
                name=label,
                line={"color": PALETTE[i], "width": 2.5},
                hovertemplate=f"threshold %{{x:.2f}}<br>{label} %{{y:.3f}}<extra></extra>",
            ),
            row=1,
            col=1,
        )
    active = int(np.argmin([abs(t - chosen_threshold) for t in thresholds]))
    first = steps[active]
    cells = [["true normal", "false alarm"], ["missed", "found"]]

    def texts(m):
        counts = matrix(m)
        return [[f"{cells[r][c]}<br>{counts[r][c]}" for c in range(2)] for r in range(2)]

    heatmap_index = len(names)
    fig.add_trace(
        go.Heatmap(
            z=matrix(first),
            x=["called normal", "called pneumonia"],
            y=["normal", "pneumonia"],
            text=texts(first),
            texttemplate="%{text}",
            colorscale="Blues",
            showscale=False,
            hoverinfo="skip",
        ),
        row=1,
        col=2,
    )
    fig.update_yaxes(autorange="reversed", row=1, col=2, title_text="truth")
    fig.update_xaxes(title_text="threshold", range=[0, 1], row=1, col=1)
    fig.update_yaxes(range=[0, 1.02], title_text="share", row=1, col=1)
    readouts = {f"{t:.2f}": threshold_readout(m) for t, m in zip(thresholds, steps, strict=True)}
    label_chosen = {
        "text": f"{chosen_by}: {chosen_threshold:.2f}",
        "x": chosen_threshold,
        "xref": "x",
        "y": 0.02,
        "yref": "y domain",
        "showarrow": False,
        "xanchor": "left",
        "font": {"size": 11, "color": "#555"},
    }
    fig.update_layout(
        height=500,
        margin={"t": 110, "b": 40, "l": 60, "r": 20},
        legend=RIGHT_LEGEND,
        shapes=[_vline(thresholds[active]), _vline(chosen_threshold, "#555", 1.5, "dash")],
        sliders=[
            _slider(
                [f"{t:.2f}" for t in thresholds],
                [
                    {
                        "args": [
                            {"z": [matrix(m)], "text": [texts(m)]},
                            {
                                "shapes[0].x0": t,
                                "shapes[0].x1": t,
                                "annotations[0].text": readouts[f"{t:.2f}"],
                            },
                            [heatmap_index],
                        ]
                    }
                    for t, m in zip(thresholds, steps, strict=True)
                ],
                active,
                "threshold ",
            )
        ],
    )

    # Assigned, not passed to update_layout (which would merge into the subplot titles):
    # the readout must be annotation 0, which the slider steps rewrite.
    fig.layout.annotations = (
        _readout_annotation(readouts[f"{thresholds[active]:.2f}"]),
        label_chosen,
        *fig.layout.annotations,
    )
    static, (left, right) = plt.subplots(1, 2, figsize=(11, 4), width_ratios=(1.6, 1))
    for i, (key, label) in enumerate(names.items()):
        left.plot(curve_t, [m[key] for m in curve], color=PALETTE[i], label=label, lw=2)
    left.axvline(chosen_threshold, color="#555", ls="--", lw=1.2, label=chosen_by)
    left.set(xlabel="threshold", ylabel="share", ylim=(0, 1.02))
    left.set_title(f"Metrics on the {split} split")
    left.legend(loc="lower left", fontsize=8)
    chosen = binary_metrics(labels, scores, chosen_threshold)
    plot_confusion_matrix(labels, scores, chosen_threshold, ax=right)
    static.tight_layout()
    return InteractiveFigure(
        name="threshold-explorer",
        figure=fig,
        fallback_png=figure_png(static),
        caption=(
            "Try: drag the threshold slider to 0.10 and then to 0.90, and read how "
            "sensitivity, specificity, PPV, NPV and the confusion matrix change; the dashed "
            "line is "
            f"the threshold {chosen_by}."
        ),
        alt=(
            f"Sensitivity, specificity, PPV and NPV on the {split} split against the decision "
            f"threshold, and the confusion matrix at the threshold {chosen_by}, "
            f"{chosen_threshold:.2f}: {threshold_readout(chosen)}."
        ),
        readouts=readouts,
    )


def prevalence_readout(prevalence: float, sensitivity: float, specificity: float) -> str:
    """The line the prevalence explorer shows for one prevalence."""
    return (
        f"Prevalence {prevalence:.0%}: PPV {_fmt(ppv(sensitivity, specificity, prevalence))}, "
        f"NPV {_fmt(npv(sensitivity, specificity, prevalence))}"
    )


def prevalence_explorer(
    sensitivity: float,
    specificity: float,
    settings: Mapping[str, float],
    *,
    prevalences: Sequence[float] | None = None,
) -> InteractiveFigure:
    """A prevalence slider: PPV and NPV at a fixed sensitivity and specificity.

    Args:
        sensitivity, specificity: the model's, at its chosen threshold.
        settings: named prevalences to mark, e.g. ``{"screening": 0.05, "test split": 0.62}``.
        prevalences: the slider's steps (default 1 %, 2 %, 5 %, 10 %, ..., 90 %).
    """
    import matplotlib.pyplot as plt
    import plotly.graph_objects as go

    sensitivity = _check_probability(sensitivity, "sensitivity")
    specificity = _check_probability(specificity, "specificity")
    settings = {
        name: _check_probability(p, f"the prevalence of {name}") for name, p in settings.items()
    }
    if prevalences is None:
        prevalences = [0.01, 0.02, *np.round(np.arange(0.05, 0.901, 0.05), 2)]
    prevalences = [_check_probability(p, "every prevalence") for p in prevalences]
    grid = np.linspace(0.005, 0.995, 199)
    fig = go.Figure()
    for i, (name, function) in enumerate((("PPV", ppv), ("NPV", npv))):
        fig.add_trace(
            go.Scatter(
                x=grid * 100,
                y=[function(sensitivity, specificity, p) for p in grid],
                mode="lines",
                name=name,
                line={"color": PALETTE[i], "width": 2.5},
                hovertemplate=f"prevalence %{{x:.1f}} %<br>{name} %{{y:.3f}}<extra></extra>",
            )
        )
    readouts = {f"{p:.0%}": prevalence_readout(p, sensitivity, specificity) for p in prevalences}
    active = int(np.argmin([abs(p - min(settings.values(), default=0.05)) for p in prevalences]))
    shapes = [_vline(prevalences[active] * 100)]
    marks = []
    for name, p in settings.items():
        shapes.append(_vline(p * 100, "#555", 1.5, "dash"))
        marks.append(
            {
                "text": f"{name} ({p:.0%})",
                "x": p * 100,
                "xref": "x",
                "y": 0.03,
                "yref": "y domain",
                "showarrow": False,
                "xanchor": "left",
                "font": {"size": 11, "color": "#555"},
            }
        )
    title = f"Sensitivity {sensitivity:.3f} and specificity {specificity:.3f}, held fixed"
    fig.update_layout(
        height=460,
        title={"text": title, "font": {"size": 14}, "y": 0.97},
        margin={"t": 110, "b": 40, "l": 60, "r": 20},
        xaxis={"title": {"text": "prevalence of pneumonia (%)"}, "range": [0, 100]},
        yaxis={"title": {"text": "predictive value"}, "range": [0, 1.02]},
        legend=RIGHT_LEGEND,
        shapes=shapes,
        annotations=[_readout_annotation(readouts[f"{prevalences[active]:.0%}"]), *marks],
        sliders=[
            _slider(
                [f"{p:.0%}" for p in prevalences],
                [
                    {
                        "args": [
                            {},
                            {
                                "shapes[0].x0": p * 100,
                                "shapes[0].x1": p * 100,
                                "annotations[0].text": readouts[f"{p:.0%}"],
                            },
                        ]
                    }
                    for p in prevalences
                ],
                active,
                "prevalence ",
            )
        ],
    )
    static, ax = plt.subplots(figsize=(8, 4))
    for i, (name, function) in enumerate((("PPV", ppv), ("NPV", npv))):
        ax.plot(
            grid * 100,
            [function(sensitivity, specificity, p) for p in grid],
            lw=2,
            color=PALETTE[i],
            label=name,
        )
    for name, p in settings.items():
        ax.axvline(p * 100, color="#555", ls="--", lw=1.2)
        ax.annotate(
            f"{name} ({p:.0%})",
            (p * 100, 0.03),
            xytext=(3, 0),
            textcoords="offset points",
            fontsize=8,
            color="#555",
        )
    ax.set(
        xlabel="prevalence of pneumonia (%)",
        ylabel="predictive value",
        ylim=(0, 1.02),
        xlim=(0, 100),
        title=title,
    )
    ax.legend(loc="center right")
    static.tight_layout()
    marked = "; ".join(
        prevalence_readout(p, sensitivity, specificity) + f" ({name})"
        for name, p in settings.items()
    )
    return InteractiveFigure(
        name="prevalence-explorer",
        figure=fig,
        fallback_png=figure_png(static),
        caption=(
            "Try: slide the prevalence from 1 % to 60 % and watch the PPV climb while the "
            "model's sensitivity and specificity stay exactly the same; the dashed lines mark "
            + " and ".join(settings)
            + "."
        ),
        alt=f"PPV and NPV against prevalence at fixed sensitivity and specificity. {marked}.",
        readouts=readouts,
    )


def rounds_readout(round_number: int, curves: Mapping[str, Mapping[int, float]]) -> str:
    """The line the rounds explorer shows for one round."""
    values = ", ".join(f"{name} {_fmt(curve[round_number])}" for name, curve in curves.items())
    return f"Round {round_number}: {values}"


def rounds_explorer(
    curves: Mapping[str, Mapping[int, float]],
    references: Mapping[str, float],
    *,
    metric: str = "test AUC",
    y_range: tuple[float, float] = (0.5, 1.0),
) -> InteractiveFigure:
    """A rounds slider over federations' global metric, with reference models to toggle.

    Args:
        curves: ``{federation: {round: metric}}``, e.g. FedAvg on the IID and non-IID splits.
        references: ``{model: metric}`` drawn as horizontal lines (pooled, each hospital
            alone): a click on a name in the legend hides or shows it.
    """
    import matplotlib.pyplot as plt
    import plotly.graph_objects as go
    from matplotlib.ticker import MaxNLocator

    curves = {name: {int(r): float(v) for r, v in dict(c).items()} for name, c in curves.items()}
    if not curves or not all(curves.values()):
        raise ValueError("rounds_explorer needs at least one federation with one round.")
    rounds = sorted(set.intersection(*(set(c) for c in curves.values())))
    if not rounds:
        raise ValueError(f"The federations share no round: {[sorted(c) for c in curves.values()]}.")
    fig = go.Figure()
    for i, (name, curve) in enumerate(curves.items()):
        fig.add_trace(
            go.Scatter(
                x=sorted(curve),
                y=[curve[r] for r in sorted(curve)],
                mode="lines+markers",
                name=name,
                line={"color": PALETTE[i], "width": 2.5},
                hovertemplate=f"{name}<br>round %{{x}}: %{{y:.3f}}<extra></extra>",
            )
        )
    span = [min(rounds), max(rounds)]
    for j, (name, value) in enumerate(references.items()):
        fig.add_trace(
            go.Scatter(
                x=span,
                y=[float(value)] * 2,
                mode="lines",
                name=f"{name} ({value:.3f})",
                line={
                    "color": _reference_style(j, len(curves))[0],
                    "dash": _reference_style(j, len(curves))[1],
                    "width": 1.8,
                },
                hovertemplate=f"{name}: {value:.3f}<extra></extra>",
            )
        )
    readouts = {str(r): rounds_readout(r, curves) for r in rounds}
    active = len(rounds) - 1
    fig.update_layout(
        height=500,
        margin={"t": 100, "b": 40, "l": 60, "r": 20},
        xaxis={"title": {"text": "communication round"}, "dtick": 1},
        yaxis={"title": {"text": metric}, "range": list(y_range)},
        legend=RIGHT_LEGEND | {"title": {"text": "click to hide or show"}},
        shapes=[_vline(rounds[active], "#333", 1.5)],
        annotations=[_readout_annotation(readouts[str(rounds[active])])],
        sliders=[
            _slider(
                [str(r) for r in rounds],
                [
                    {
                        "args": [
                            {},
                            {
                                "shapes[0].x0": r,
                                "shapes[0].x1": r,
                                "annotations[0].text": readouts[str(r)],
                            },
                        ]
                    }
                    for r in rounds
                ],
                active,
                "round ",
            )
        ],
    )
    static, ax = plt.subplots(figsize=(8, 4.2))
    for i, (name, curve) in enumerate(curves.items()):
        ax.plot(
            sorted(curve),
            [curve[r] for r in sorted(curve)],
            marker="o",
            color=PALETTE[i],
            label=name,
        )
    for j, (name, value) in enumerate(references.items()):
        ax.axhline(
            value,
            color=_reference_style(j, len(curves))[0],
            ls=_reference_style(j, len(curves))[2],
            lw=1.3,
            label=f"{name} ({value:.3f})",
        )
    ax.set(xlabel="communication round", ylabel=metric, ylim=y_range)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # rounds are whole numbers
    ax.legend(loc="lower right", fontsize=7)
    static.tight_layout()
    return InteractiveFigure(
        name="rounds-explorer",
        figure=fig,
        fallback_png=figure_png(static),
        caption=(
            "Try: move the round slider from the first round to the last and compare the "
            "federations round by round; click a hospital (or pooled training) in the legend "
            "to hide or show its line."
        ),
        alt=f"{metric} of the global model round by round. "
        + rounds_readout(rounds[-1], curves)
        + ". Reference lines: "
        + ", ".join(f"{name} {value:.3f}" for name, value in references.items())
        + ".",
        readouts=readouts,
    )


def formats_readout(format_name: str, rows: Mapping[str, Mapping[str, float]]) -> str:
    """The line the formats explorer shows for one format: each candidate's numbers."""
    parts = [
        f"{name} {row['size (KB)']:.1f} KB, {row['latency p50 (ms)']:.3f} ms, "
        f"AUC {row['test AUC']:.3f}"
        for name, row in rows.items()
    ]
    return f"{format_name}:<br>" + "<br>".join(parts)  # one line per candidate


def formats_explorer(table, candidates: Sequence[str], formats: Sequence[str]) -> InteractiveFigure:
    """A format slider over an edge table: each candidate's size, latency and test AUC.

    Args:
        table: a DataFrame indexed by (candidate, format) with the columns ``size (KB)``,
            ``latency p50 (ms)`` and ``test AUC`` (chapter 10's table).
        candidates, formats: the rows to show, in order.
    """
    import matplotlib.pyplot as plt
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    needed = {"size (KB)", "latency p50 (ms)", "test AUC"}
    if missing := needed - set(table.columns):
        raise ValueError(f"The table lacks the columns {sorted(missing)}.")
    absent = [(c, f) for c in candidates for f in formats if (c, f) not in table.index]
    if absent:
        raise ValueError(f"The table has no row for {absent}.")
    fig = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        horizontal_spacing=0.06,
        subplot_titles=("Size against test AUC", "Latency against test AUC"),
    )
    symbols = ("circle", "square", "triangle-up", "diamond", "cross")
    for column, col in (("size (KB)", 1), ("latency p50 (ms)", 2)):
        for i, name in enumerate(candidates):
            rows = table.loc[[(name, f) for f in formats]]
            fig.add_trace(
                go.Scatter(
                    x=rows[column].to_numpy(),
                    y=rows["test AUC"].to_numpy(),
                    mode="markers",
                    name=name,
                    legendgroup=name,
                    showlegend=col == 1,
                    text=list(formats),
                    marker={"symbol": symbols[i % len(symbols)], "color": PALETTE[i], "size": 9},
                    hovertemplate=f"{name}<br>%{{text}}<br>%{{x:.3g}}, AUC %{{y:.3f}}"
                    + "<extra></extra>",
                ),
                row=1,
                col=col,
            )
    fig.update_xaxes(type="log", title_text="file size (KB, log scale)", row=1, col=1)
    fig.update_xaxes(
        type="log", title_text="median latency (ms, one thread, log scale)", row=1, col=2
    )
    fig.update_yaxes(title_text="test AUC", row=1, col=1)

    def rows_of(format_name):
        return {name: table.loc[(name, format_name)] for name in candidates}

    readouts = {f: formats_readout(f, rows_of(f)) for f in formats}
    n_traces = 2 * len(candidates)

    def emphasis(k):
        sizes = [[18 if j == k else 8 for j in range(len(formats))]] * n_traces
        opacity = [[1.0 if j == k else 0.35 for j in range(len(formats))]] * n_traces
        return {"marker.size": sizes, "marker.opacity": opacity}

    for index, trace in enumerate(fig.data):
        trace.marker.size = emphasis(0)["marker.size"][index]
        trace.marker.opacity = emphasis(0)["marker.opacity"][index]
    fig.update_layout(
        height=580,
        margin={"t": 170, "b": 40, "l": 60, "r": 20},
        legend=RIGHT_LEGEND,
        sliders=[
            _slider(
                list(formats),
                [
                    {
                        "args": [
                            emphasis(k),
                            {"annotations[0].text": readouts[f]},
                            list(range(n_traces)),
                        ]
                    }
                    for k, f in enumerate(formats)
                ],
                0,
                "format ",
            )
        ],
    )
    # Assigned, as in threshold_explorer: the readout must be annotation 0.
    fig.layout.annotations = (
        _readout_annotation(readouts[formats[0]]) | {"y": 1.1},
        *fig.layout.annotations,
    )
    static, (by_size, by_latency) = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for i, name in enumerate(candidates):
        rows = table.loc[[(name, f) for f in formats]]
        for ax, column in ((by_size, "size (KB)"), (by_latency, "latency p50 (ms)")):
            ax.scatter(rows[column], rows["test AUC"], color=PALETTE[i], label=name, s=40)
            for f, x, y in zip(formats, rows[column], rows["test AUC"], strict=True):
                ax.annotate(
                    f.replace("LiteRT ", ""),
                    (x, y),
                    fontsize=6,
                    xytext=(3, 3),
                    textcoords="offset points",
                )
    by_size.set(xscale="log", xlabel="file size (KB, log scale)", ylabel="test AUC")
    by_latency.set(xscale="log", xlabel="median latency (ms, one thread, log scale)")
    by_latency.legend(loc="lower right", fontsize=8)
    static.tight_layout()
    return InteractiveFigure(
        name="formats-explorer",
        figure=fig,
        fallback_png=figure_png(static),
        caption=(
            "Try: step the format slider from float32 through the int8 formats to ONNX, and "
            "read how each candidate's file size, latency and test AUC change (the large "
            "marker is the format shown)."
        ),
        alt="File size and median latency against test AUC for each candidate and format. "
        + " ".join(readouts[f].replace(":<br>", ": ").replace("<br>", "; ") + "." for f in formats),
        readouts=readouts,
    )
