"""What a report says about a judge's verdicts: per pipeline how many judgments came back, and how many are
NaN for each reason (``unparsable``, ``refusal``, ``filtered``, ``error``, ``no_instruction``), with the
models the server reported. A judge scorer is recognised by its ``<name>_protocol`` evidence column
(:mod:`scorers.judge`); a NaN judgment is never averaged in as 0, so these counts are what the means rest on.
"""

from __future__ import annotations

import pandas as pd

REASONS = ("unparsable", "refusal", "filtered", "error", "no_instruction")


def judge_scorers(df: pd.DataFrame) -> list[str]:
    """Names of the judge scorers whose evidence the rows carry (``judge``, ``judge_imgedit``)."""
    return sorted(c[: -len("_protocol")] for c in df.columns if c.endswith("_protocol")
                  and f"{c[: -len('_protocol')]}_reason" in df.columns)


def judge_counts(df: pd.DataFrame, judge: str) -> pd.DataFrame:
    """One row per pipeline: ok rows, judged (a value), each NaN reason, models reported."""
    ok = df[df["status"] == "ok"]
    rows = []
    for p, g in ok.groupby("pipeline", sort=True):
        asked = g[g[f"{judge}_protocol"].notna()]
        reasons = asked[f"{judge}_reason"]
        col = f"{judge}_model_reported"
        models = sorted({m for v in asked[col].dropna() for m in str(v).split(",")}) if col in asked else []
        rows.append({"pipeline": p, "rows": len(g), "judged": int(reasons.isna().sum()),
                     **{r: int((reasons == r).sum()) for r in REASONS}, "models reported": ", ".join(models) or "-"})
    return pd.DataFrame(rows)


def judge_markdown(df: pd.DataFrame) -> list[str]:
    """Markdown lines of the judge section (none when no judge scored the run)."""
    lines: list[str] = []
    for judge in judge_scorers(df):
        t = judge_counts(df, judge)
        if t.empty:
            continue
        protocols = sorted(set(df[f"{judge}_protocol"].dropna().astype(str)))
        models = sorted(set(df[f"{judge}_model"].dropna().astype(str))) if f"{judge}_model" in df else []
        lines += ["", f"## Judge `{judge}` ({', '.join(models)}; protocol {', '.join(protocols)})", "",
                  "Judgments per pipeline; NaN judgments by reason (never counted as 0).", "",
                  "| " + " | ".join(t.columns) + " |", "|" + "---|" * len(t.columns)]
        lines += ["| " + " | ".join(str(v) for v in r) + " |" for r in t.itertuples(index=False)]
    return lines
