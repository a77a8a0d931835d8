"""The ``editbench`` command line: a thin Typer shell over harness, tasks, scorers and reports.

Bad input prints one sentence to stderr and exits with code 2.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Optional

import typer

from harness.errors import EditbenchError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Evaluate image-editing pipelines.")


def _errors_exit_2(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except EditbenchError as e:
            typer.echo(f"editbench: error: {e}", err=True)
            raise typer.Exit(code=2) from None

    return wrapper


@app.command()
@_errors_exit_2
def run(
    config: Optional[Path] = typer.Argument(None, help="Run spec YAML (instead of --suite)."),
    suite: Optional[str] = typer.Option(None, help="Built-in suite name or suite YAML path."),
    pipelines: Optional[str] = typer.Option(None, help="Comma-separated pipeline names (default: the suite's)."),
    seeds: Optional[str] = typer.Option(None, help="Comma-separated seeds (default: the suite's)."),
    scorers: Optional[str] = typer.Option(None, help="Comma-separated scorer names (default: the suite's)."),
    out: Path = typer.Option(..., help="Output directory."),
    resume: bool = typer.Option(False, help="Compute only the rows missing from --out."),
    address: Optional[str] = typer.Option(None, help="Ray cluster address (default: $RAY_ADDRESS or a local Ray)."),
    actors_per_pipeline: Optional[int] = typer.Option(None, help="Actors (pipeline copies) per pipeline."),
    timeout: Optional[float] = typer.Option(None, help="Per-task time limit in seconds."),
    limit: Optional[int] = typer.Option(None, help="Run only the first N tasks of the suite."),
    progress: bool = typer.Option(True, help="Show the progress bar."),
):
    """Run a suite (or a run spec file) and write run.json and results/*.parquet into --out."""
    from harness.runner import run as run_spec
    from harness.spec import RunSpec, load_run_spec

    if (config is None) == (suite is None):
        raise EditbenchError("give either a run spec file or --suite NAME, not both or neither.")
    spec = load_run_spec(config) if config else RunSpec(suite=suite)
    overrides = {k: v for k, v in dict(pipelines=pipelines, seeds=seeds, scorers=scorers, address=address,
                                       actors_per_pipeline=actors_per_pipeline, task_timeout_s=timeout,
                                       limit=limit).items() if v is not None}
    if resume:
        overrides["resume"] = True
    try:
        spec = RunSpec(**{**spec.model_dump(exclude_unset=True), **overrides})
    except Exception as e:  # pydantic ValidationError
        from pydantic import ValidationError

        from harness.errors import format_validation_error

        if isinstance(e, ValidationError):
            raise EditbenchError(format_validation_error(e, where="command-line options")) from None
        raise
    out_dir = run_spec(spec, out=out, progress=progress)
    typer.echo(f"wrote {out_dir / 'run.json'} and {out_dir / 'results'}/", err=True)


@app.command()
@_errors_exit_2
def report(
    out: Optional[Path] = typer.Argument(None, help="Run directory."),
    history: Optional[Path] = typer.Option(None, help="Folder of run directories: metric trends across runs."),
    recommend: Optional[Path] = typer.Option(None, help="Run directory: write skill-editing-pipeline.md."),
    html: bool = typer.Option(True, help="Also write the .html page."),
    metric: Optional[str] = typer.Option(None, help="--recommend: rank by this metric (default: the first quality metric)."),
    thresholds: Optional[Path] = typer.Option(None, help="--recommend: YAML {metric: {max|min: value, advice: text}}."),
):
    """Print the leaderboard of a run directory and write leaderboard.md/.html (or --history / --recommend)."""
    given = [x for x in (out, history, recommend) if x is not None]
    if len(given) != 1:
        raise EditbenchError("give exactly one of: a run directory, --history RUNS_ROOT, or --recommend RUN_DIR.")
    if history is not None:
        from reports.history import write_history

        typer.echo(write_history(history, html=html))
    elif recommend is not None:
        from reports.recommend import write_recommendation

        typer.echo(write_recommendation(recommend, metric=metric, thresholds=thresholds))
    else:
        from reports.leaderboard import write_report

        typer.echo(write_report(out, html=html))


@app.command()
@_errors_exit_2
def gate(
    baseline: Path = typer.Argument(..., help="Baseline run directory."),
    candidate: Path = typer.Argument(..., help="Candidate run directory."),
    config: Optional[Path] = typer.Option(None, help="gates.yaml: tolerances, confidence, pipeline pairs."),
    force: bool = typer.Option(False, help="Gate even when the suites (name or content hash) differ."),
    out: Optional[Path] = typer.Option(None, help="Where to write gate.md/.json/-junit.xml (default: CANDIDATE)."),
):
    """Regression gate: exit 0 pass, 1 regression, 2 unusable input."""
    from reports.gate import gate as run_gate
    from reports.gate import load_gate_config, to_markdown, write_gate

    result = run_gate(baseline, candidate, config=load_gate_config(config), force=force)
    write_gate(result, out or candidate)
    typer.echo(to_markdown(result))
    typer.echo(result.summary(), err=True)
    raise typer.Exit(code=result.exit_code)


@app.command("list")
@_errors_exit_2
def list_(what: str = typer.Argument(..., help="suites | pipelines | scorers")):
    """List suites, pipelines or scorers with their availability."""
    from harness.inventory import describe

    typer.echo(describe(what))


@app.command()
@_errors_exit_2
def doctor():
    """Report devices, Ray and weights directories."""
    from harness.inventory import doctor_report

    typer.echo(doctor_report())


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
