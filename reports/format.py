"""Human number formats for reports: latency as ms or s, shares as %, other values to 4 significant digits."""

from __future__ import annotations

import math

import numpy as np

from reports.stats import Estimate


def fmt_num(v: float | None) -> str:
    """4 significant digits without scientific notation for everyday magnitudes; "" for NaN/None."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    v = float(v)
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == 0:
        return "0"
    if 1e-3 <= abs(v) < 1e6:
        digits = max(0, 3 - int(math.floor(math.log10(abs(v)))))
        return f"{v:.{digits}f}".rstrip("0").rstrip(".") if "." in f"{v:.{digits}f}" else f"{v:.{digits}f}"
    return f"{v:.3g}"


def fmt_ms(ms: float | None) -> str:
    """Milliseconds as "12.3 ms", "4.21 s" or "3.5 min"; "—" when unknown."""
    if ms is None or not math.isfinite(ms):
        return "—"
    if ms < 1:
        return f"{ms:.2f} ms"
    if ms < 1000:
        return f"{ms:.3g} ms" if ms < 100 else f"{ms:.0f} ms"
    s = ms / 1000
    if s < 60:
        return f"{s:.3g} s"
    return f"{s / 60:.3g} min"


def fmt_pct(share: float | None) -> str:
    """A share in [0, 1] as a percentage ("12.5 %")."""
    if share is None or not math.isfinite(share):
        return "—"
    return f"{100 * share:.3g} %"


def fmt(v: float) -> str:
    return "" if v is None or not np.isfinite(v) else fmt_num(v)


def fmt_estimate(e: Estimate) -> str:
    if not e.ok:
        return "—"
    if not (np.isfinite(e.lo) and np.isfinite(e.hi)):
        return f"{fmt(e.mean)}"
    return f"{fmt(e.mean)} [{fmt(e.lo)}, {fmt(e.hi)}]"


def fmt_with_infinite(e: Estimate, n_inf: int) -> str:
    """Estimates are over finite values; +inf values (PSNR of pixel-identical regions) are counted
    apart: "inf" when every row is +inf, else the finite estimate with "(+k inf)"."""
    if n_inf and not e.ok:
        return "inf"
    return fmt_estimate(e) + (f" (+{n_inf} inf)" if n_inf else "")
