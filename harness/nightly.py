"""``editbench nightly``: several suites run, reported, gated against their accepted baselines, the history
and the site updated and MLflow told, in one command whose exit code is the worst of its parts.

The spec (YAML)::

    root: runs/nightly            # runs land at <root>/<suite>/<night>/ (night: --night, default today's UTC date)
    suites:                       # a suite name or file, or a mapping with the keys of an `editbench run` spec
      - toy-5d
      - {suite: smoke-removal, seeds: [0, 1]}
    pipelines: [cv2-telea, patchmatch]   # defaults for every suite that names none
    seeds: [0]
    scorers: null
    mlflow: file:///srv/mlruns    # optional tracking URI (else $MLFLOW_TRACKING_URI, else no MLflow)
    site: site/                   # optional: the static site is rewritten there

Resumable as a whole: rerunning the same night skips every suite whose run is complete and resumes the
others. A suite with no accepted baseline yet says "no baseline" and does not fail.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.contract.spec import RunSpec, read_yaml_mapping
from harness.core.errors import EXIT_OK, EditbenchError, format_validation_error
from harness.execution.runner import run_exit_code
from harness.workflow import run as run_and_report
from reports.baselines import baseline_for
from reports.gate import gate, to_markdown, write_gate
from reports.history import write_history
from reports.site import write_site
from reports.tracking import log_run
from tasks.loading import load_suite

RUN_KEYS = {"pipelines", "seeds", "scorers", "limit", "primary", "scorer_options", "grid"}


class NightlySpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    root: str = "runs/nightly"
    suites: list[str | dict[str, Any]] = Field(min_length=1)
    pipelines: list[str | dict[str, Any]] | None = None
    seeds: list[int] | None = None
    scorers: list[str] | None = None
    limit: int | None = Field(None, ge=1)
    mlflow: str | None = None
    site: str | None = None


@dataclass
class SuiteOutcome:
    suite: str
    out: Path
    run_code: int
    gate_code: int | None          # None: no accepted baseline yet
    skipped: bool                  # already complete from an earlier attempt of this night

    @property
    def code(self) -> int:
        return max(self.run_code, self.gate_code or 0)

    def line(self) -> str:
        gate_text = {None: "no baseline", 0: "gate pass", 1: "gate REGRESSION", 2: "gate unusable"}.get(
            self.gate_code, f"gate exit {self.gate_code}")
        run_text = "already complete" if self.skipped else ("ok" if self.run_code == EXIT_OK else f"run exit {self.run_code}")
        return f"{self.suite}: {run_text}, {gate_text} ({self.out})"


def load_nightly(path: str | Path) -> NightlySpec:
    data = read_yaml_mapping(Path(path), what="nightly spec")
    try:
        return NightlySpec(**data)
    except ValidationError as e:
        raise EditbenchError(format_validation_error(e, where=f"nightly spec {path}")) from None


def run_specs(spec: NightlySpec) -> list[RunSpec]:
    """One run spec per suite entry: the entry's own keys over the nightly defaults."""
    defaults = {k: v for k, v in spec.model_dump().items() if k in RUN_KEYS and v is not None}
    out = []
    for i, entry in enumerate(spec.suites):
        item = {"suite": entry} if isinstance(entry, str) else dict(entry)
        try:
            out.append(RunSpec(**{**defaults, **item}))
        except ValidationError as e:
            raise EditbenchError(format_validation_error(e, where=f"nightly spec suites[{i}]")) from None
    return out


def run_nightly(spec: NightlySpec, *, root: str | Path | None = None, night: str | None = None,
                progress: bool = True, spec_file: str | Path | None = None) -> list[SuiteOutcome]:
    """Every suite of ``spec``: run (or resume), report, gate, history; then MLflow and the site.
    ``spec_file``: the nightly spec's file, whose pipelines and scorer options follow the credential rule
    of every file (:mod:`harness.core.credentials`)."""
    root = Path(root or spec.root)
    night = night or datetime.now(timezone.utc).strftime("%Y%m%d")
    outcomes = []
    for rs in run_specs(spec):
        name = load_suite(rs.suite).name
        out = root / name / night
        skipped = (out / "run.json").is_file() and _status(out) == "complete"
        if not skipped:
            again = (out / "run.json").is_file()      # an earlier attempt of this night stopped: resume it
            resumed = rs.model_copy(update={"execution": rs.execution.model_copy(update={"resume": again})})
            print(f"editbench: nightly: {name} -> {out}", file=sys.stderr)
            run_and_report(resumed, out=out, progress=progress, spec_file=spec_file)
        outcome = SuiteOutcome(suite=name, out=out, run_code=run_exit_code(out), gate_code=None, skipped=skipped)
        base = baseline_for(out, root=root)
        if base is not None and base.resolve() != out.resolve():
            result = gate(base, out)
            write_gate(result, out)
            outcome.gate_code = result.exit_code
            _step_summary(f"## {name}\n\n{to_markdown(result)}\n")
        write_history(root / name)
        if not skipped and (spec.mlflow or os.environ.get("MLFLOW_TRACKING_URI")):   # logged once per run
            verdict = {None: "no baseline", 0: "pass", 1: "regression", 2: "unusable"}.get(outcome.gate_code)
            log_run(out, tracking_uri=spec.mlflow, verdict=verdict)
        print(f"editbench: nightly: {outcome.line()}", file=sys.stderr)
        outcomes.append(outcome)
    if spec.site:
        write_site(root, spec.site)
    return outcomes


def _status(out: Path) -> str | None:
    import json

    try:
        meta = json.loads((out / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta.get("status") if isinstance(meta, dict) else None


def _step_summary(markdown: str) -> None:
    """Append to GitHub Actions' job summary when running there (``$GITHUB_STEP_SUMMARY``)."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        try:
            with open(path, "a", encoding="utf-8") as f:
                f.write(markdown)
        except OSError as e:
            print(f"editbench: warning: could not append to $GITHUB_STEP_SUMMARY ({e.strerror}).", file=sys.stderr)
