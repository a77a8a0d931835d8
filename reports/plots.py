"""Matplotlib (Agg) figures for reports, returned as self-contained PNG data URIs.

Every function takes plain data (no file access) and returns ``data:image/png;base64,...`` so the
HTML page needs no network and no side files.
"""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING

import numpy as np

from reports.rows import is_latency_metric

if TYPE_CHECKING:
    from reports.leaderboard import Entry

DPI = 90


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def data_uri(fig) -> str:
    """PNG data URI of a figure (the figure is closed)."""
    plt = _plt()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def png_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def metric_bars(entries: list["Entry"], metrics: list[str], directions: dict[str, str]) -> str | None:
    """One panel per metric: task mean per pipeline with its CI as error bars."""
    if not metrics or not entries:
        return None
    plt = _plt()
    n = len(metrics)
    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 0.45 * len(entries) * rows + 1.6 * rows), squeeze=False)
    for ax, m in zip(axes.flat, metrics):
        names, means, err = [], [], []
        for e in entries:
            est = e.metrics.get(m)
            if est is None or not est.ok or (e.random_only and not is_latency_metric(m)):
                continue
            names.append(e.pipeline)
            means.append(est.mean)
            lo = est.mean - est.lo if np.isfinite(est.lo) else 0.0
            hi = est.hi - est.mean if np.isfinite(est.hi) else 0.0
            err.append((max(lo, 0.0), max(hi, 0.0)))
        y = np.arange(len(names))
        if names:
            ax.barh(y, means, xerr=np.array(err).T, color="#4c78a8", ecolor="#222", capsize=3)
        else:
            infinite = [e.pipeline for e in entries if e.infinite.get(m)]
            note = ("every value is +inf\n(e.g. PSNR of pixel-identical regions):\n" + ", ".join(infinite)
                    if infinite else "no values")
            ax.text(0.5, 0.5, note, ha="center", va="center", fontsize=8, transform=ax.transAxes)
        ax.set_yticks(y, names, fontsize=8)
        ax.invert_yaxis()
        arrow = "↑ higher is better" if directions.get(m) == "higher" else "↓ lower is better"
        ax.set_title(f"{m}\n({arrow})", fontsize=9)
        ax.tick_params(axis="x", labelsize=8)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.tight_layout()
    return data_uri(fig)


def latency_boxes(samples: dict[str, dict[str, np.ndarray]]) -> str | None:
    """Box plots of latency per stage (panels) and pipeline (boxes). ``samples[stage][pipeline]`` in ms."""
    stages = [s for s, by_p in samples.items() if any(len(v) for v in by_p.values())]
    if not stages:
        return None
    plt = _plt()
    fig, axes = plt.subplots(1, len(stages), figsize=(4.2 * len(stages), 3.2), squeeze=False)
    for ax, s in zip(axes.flat, stages):
        names = [p for p, v in samples[s].items() if len(v)]
        ax.boxplot([samples[s][p] for p in names], orientation="horizontal", showfliers=True)
        ax.set_yticks(np.arange(1, len(names) + 1), names, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("ms", fontsize=8)
        ax.set_title(s, fontsize=9)
        ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    return data_uri(fig)


def sweep_curves(param: str, entries: list["Entry"], metrics: list[str], directions: dict[str, str]) -> str | None:
    """Metric vs sweep parameter, one line per pipeline with its CI band."""
    if not metrics:
        return None
    plt = _plt()
    n = len(metrics)
    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    pipelines = sorted({e.pipeline for e in entries})
    for ax, m in zip(axes.flat, metrics):
        for p in pipelines:
            pts = sorted((float(e.key[param]), e.metrics[m]) for e in entries
                         if e.pipeline == p and m in e.metrics and e.metrics[m].ok
                         and (is_latency_metric(m) or not e.random_only))
            if not pts:
                continue
            x = np.array([t[0] for t in pts])
            ax.plot(x, [t[1].mean for t in pts], marker="o", label=p)
            ax.fill_between(x, [t[1].lo for t in pts], [t[1].hi for t in pts], alpha=0.2)
        arrow = "↑" if directions.get(m) == "higher" else "↓"
        ax.set_title(f"{m} {arrow}", fontsize=9)
        ax.set_xlabel(param.removeprefix("param."), fontsize=8)
        ax.tick_params(labelsize=8)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), fontsize=8,
                   bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return data_uri(fig)


def array_thumbnail(x: np.ndarray, *, mask: np.ndarray | None = None, title: str = "",
                    known_from: np.ndarray | None = None) -> str:
    """A small scatter of an (n, d) sample array: mean of the known dims vs mean of the regenerated dims.

    ``known_from``: the source samples, whose known dims are the x axis (default: ``x``'s own). An
    output is plotted against its source, so a sampler that ignores the known dims (unconditional)
    shows off-diagonal clusters instead of looking like a perfect joint sample.
    """
    plt = _plt()
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    d = x.shape[1]
    m = np.zeros(d, bool) if mask is None else np.asarray(mask, bool)
    if not m.any() or m.all():
        m = np.arange(d) >= d // 2
    fig, ax = plt.subplots(figsize=(1.9, 1.9))
    known = x if known_from is None else np.asarray(known_from, dtype=np.float64).reshape(len(known_from), -1)
    ax.scatter(known[:, ~m].mean(1), x[:, m].mean(1), s=2, alpha=0.4)
    ax.set_xlabel("known dims (source)" if known_from is not None else "known dims", fontsize=7)
    ax.set_ylabel("regenerated dims", fontsize=7)
    ax.tick_params(labelsize=6)
    if title:
        ax.set_title(title, fontsize=7)
    return data_uri(fig)


def trend(history: dict[str, dict[str, list[tuple[str, float, float, float]]]], directions: dict[str, str]) -> str | None:
    """History: one panel per metric, one line per pipeline. ``history[metric][pipeline]`` = [(label, mean, lo, hi)]."""
    metrics = [m for m, by_p in history.items() if any(by_p.values())]
    if not metrics:
        return None
    plt = _plt()
    cols = min(len(metrics), 2)
    rows = (len(metrics) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(6.0 * cols, 3.2 * rows), squeeze=False)
    for ax, m in zip(axes.flat, metrics):
        labels_all: list[str] = []
        for by_p in history[m].values():
            for t in by_p:
                if t[0] not in labels_all:
                    labels_all.append(t[0])
        pos = {lab: i for i, lab in enumerate(labels_all)}
        for p, pts in history[m].items():
            if not pts:
                continue
            x = [pos[t[0]] for t in pts]
            ax.plot(x, [t[1] for t in pts], marker="o", label=p)
            ax.fill_between(x, [t[2] for t in pts], [t[3] for t in pts], alpha=0.15)
        ax.set_xticks(range(len(labels_all)), labels_all, rotation=30, ha="right", fontsize=7)
        arrow = "↑" if directions.get(m) == "higher" else "↓"
        ax.set_title(f"{m} {arrow}", fontsize=9)
        ax.tick_params(axis="y", labelsize=8)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(metrics):]:
        ax.axis("off")
    fig.tight_layout()
    return data_uri(fig)
