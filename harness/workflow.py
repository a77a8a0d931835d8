"""What a command does end to end, above both execution and reports: a run, then its leaderboard.

This is the one module (with :mod:`harness.cli`, its shell) that calls execution and reports; they never
import each other (docs/architecture.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

from harness.contract.spec import RunSpec
from harness.core.credentials import Operator
from harness.core.storage import staged
from harness.execution import runner
from reports.write import write_report


def run(spec: RunSpec, *, out: str | Path, progress: bool = True, operator: Operator = Operator(),
        spec_file: str | Path | None = None) -> runner.Out:
    """Execute ``spec`` into ``out`` (:func:`harness.execution.runner.run`; ``operator`` and ``spec_file``
    for the credential rule), then write its leaderboard (best effort: the rows are on disk either way);
    returns the output location."""
    out = runner.run(spec, out=out, progress=progress, operator=operator, spec_file=spec_file)
    report(out)
    return out


def report(out: runner.Out) -> None:
    """The leaderboard of a finished run; a failure is a warning naming the command that rebuilds it."""
    try:
        with staged(out) as local:   # an object-store run is reported from a local copy, then uploaded
            write_report(local)
    except Exception as e:  # noqa: BLE001 - the rows are on disk; the report can be rebuilt with `editbench report`
        print(f"editbench: warning: could not write the leaderboard ({e}); run `editbench report {out}`",
              file=sys.stderr)
