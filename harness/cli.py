"""The ``editbench`` command line: a thin Typer shell over harness, tasks, scorers and reports.

Bad input prints one sentence to stderr and exits with code 2.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Optional

import typer

from harness.contract.spec import RunSpec, load_run_spec
from harness.contract.variants import parse_pipelines, parse_tags
from harness.core.errors import EXIT_INTERRUPTED, EXIT_OK, EditbenchError, format_validation_error
from harness.core.imageio import load_image
from harness.core.storage import is_uri, staged
from harness.execution.pairwise import judge_pairs
from harness.execution.ray_cluster import serve_loopback_cluster
from harness.execution.ray_connect import exit_if_abandoned
from harness.execution.rescore import rescore as run_rescore
from harness.execution.rescore import scorer_options
from harness.execution.runner import interruption_note, run_exit_code, saved_spec, validate_for_run
from harness.inventory import describe, doctor_report
from harness.nightly import _step_summary, load_nightly, run_nightly
from harness.workflow import run as run_spec
from reports.baselines import accept, accept_latest, baseline_for, root_of
from reports.checklist import check_edit
from reports.gate import error_result, load_gate_config, to_markdown, to_terminal, write_gate
from reports.gate import gate as run_gate
from reports.history import write_history
from reports.leaderboard import build_report
from reports.ranking import report_ranking
from reports.recommend import write_recommendation
from reports.site import write_site
from reports.terminal import render_terminal
from reports.tracking import log_run
from reports.write import write_report
from tasks.builders import build_suite
from tasks.schema import PKG_PREFIX, resolve_data_root

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Evaluate image-editing pipelines.")


def _errors_exit_2(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except EditbenchError as e:
            typer.echo(f"editbench: error: {e}", err=True)
            raise typer.Exit(code=e.exit_code) from None

    return wrapper


@app.command()
@_errors_exit_2
def run(
    config: Optional[Path] = typer.Argument(None, help="Run spec YAML (instead of --suite)."),
    suite: Optional[str] = typer.Option(None, help="Built-in suite name or suite YAML path."),
    pipelines: Optional[str] = typer.Option(None, help="Comma-separated pipelines, each NAME or NAME:KEY=VALUE,... "
                                                       "(options, label=, weights=), e.g. 'patchmatch:resolution=96,"
                                                       "cv2-telea' (default: the suite's)."),
    label: Optional[str] = typer.Option(None, help="Comma-separated labels of the --pipelines, in order."),
    seeds: Optional[str] = typer.Option(None, help="Comma-separated seeds (default: the suite's)."),
    scorers: Optional[str] = typer.Option(None, help="Comma-separated scorer names (default: the suite's)."),
    name: Optional[str] = typer.Option(None, help="The run's name in reports, history and gate (e.g. nightly-sdxl)."),
    tag: Optional[list[str]] = typer.Option(None, help="KEY=VALUE label of the run, repeatable (e.g. --tag lora=v4)."),
    out: str = typer.Option(..., help="Output location: a directory, or an object-store URI (s3://bucket/prefix, gs://...)."),
    resume: bool = typer.Option(False, help="Compute only the rows missing from --out."),
    extend: bool = typer.Option(False, help="With --resume: add other seeds, pipelines or scorers to the run."),
    address: Optional[str] = typer.Option(None, help="Ray cluster address (default: $RAY_ADDRESS or a local Ray)."),
    actors_per_pipeline: Optional[int] = typer.Option(None, help="Actors (pipeline copies) per pipeline."),
    timeout: Optional[float] = typer.Option(None, help="Per-task time limit in seconds (> 0), from the moment the "
                                                        "actor starts the task (model loading not included)."),
    load_timeout: Optional[float] = typer.Option(None, help="Time limit in seconds for an actor to start and "
                                                             "load its pipeline (default: 600)."),
    connect_timeout: Optional[float] = typer.Option(None, help="Seconds to join --address (default 60) or to start "
                                                               "the local Ray (default 120)."),
    limit: Optional[int] = typer.Option(None, help="Run only the first N tasks of the suite (N >= 1)."),
    max_pixels: Optional[int] = typer.Option(None, help="Largest input image, width x height (default 50000000)."),
    progress: bool = typer.Option(True, help="Show the progress bar."),
    allow_endpoints: Optional[list[Path]] = typer.Option(None, help="Trust this suite or run spec file to set "
                                                         "endpoint and key-variable options (repeatable)."),
    allow_key_env: Optional[list[str]] = typer.Option(None, help="An environment variable a hosted component may "
                                                      "read its key from, besides the service's own (repeatable)."),
    operator_config: Optional[Path] = typer.Option(None, help="Operator config YAML (default: "
                                                   "$EDITBENCH_OPERATOR_CONFIG): endpoints, key variables, trusted files."),
):
    """Run a suite (or a run spec file) and write run.json and results/*.parquet into --out.

    Exit 0 when every job ended ok, 3 when some rows are error/timeout (rows kept), 4 when the run
    stopped on an infrastructure failure, 2 for bad input."""
    if config is not None and suite is not None:
        raise EditbenchError("give either a run spec file or --suite NAME, not both.")
    if config is None and suite is None and not resume:
        raise EditbenchError("give a run spec file or --suite NAME (or --resume --out DIR to finish a run).")
    if config is None and suite is None:   # --resume --out DIR alone: the plan recorded in run.json
        spec = RunSpec(**saved_spec(out))
    else:
        spec = load_run_spec(config) if config else RunSpec(suite=suite)
    if label is not None and pipelines is None:
        raise EditbenchError("--label names the --pipelines; give --pipelines too.")
    variants = parse_pipelines(pipelines, labels=_csv(label)) if pipelines is not None else None
    overrides = {k: v for k, v in dict(pipelines=variants, seeds=seeds, scorers=scorers, name=name,
                                       tags=parse_tags(tag) or None, address=address,
                                       actors_per_pipeline=actors_per_pipeline, task_timeout_s=timeout,
                                       load_timeout_s=load_timeout, connect_timeout_s=connect_timeout,
                                       limit=limit, max_pixels=max_pixels).items() if v is not None}
    if extend and not resume:
        raise EditbenchError("--extend adds to an existing run and needs --resume.")
    if resume:
        overrides["resume"] = True
    if extend:
        overrides["extend"] = True
    try:
        spec = RunSpec(**{**spec.model_dump(exclude_unset=True), **overrides})
    except Exception as e:  # pydantic ValidationError
        from pydantic import ValidationError

        if isinstance(e, ValidationError):
            raise EditbenchError(format_validation_error(e, where="command-line options")) from None
        raise
    op = _operator(operator_config, allow_endpoints or [], allow_key_env or [])
    try:
        out_dir = run_spec(spec, out=out, progress=progress, operator=op, spec_file=config)
    except KeyboardInterrupt as e:
        typer.echo(f"editbench: {interruption_note(out, resume_command=f'editbench run --resume --out {out}')}",
                   err=True)
        exit_if_abandoned(e, EXIT_INTERRUPTED)
        raise typer.Exit(code=EXIT_INTERRUPTED) from None
    except EditbenchError as e:
        typer.echo(f"editbench: error: {e}", err=True)
        exit_if_abandoned(e, e.exit_code)      # a ray.init that timed out is still blocked on its thread
        raise typer.Exit(code=e.exit_code) from None
    typer.echo(f"wrote {out_dir}/run.json and {out_dir}/results/", err=True)
    code = run_exit_code(out_dir)
    if code != EXIT_OK:
        typer.echo(f"editbench: some rows ended as error or timeout (exit {code}); they are in {out_dir}/results/",
                   err=True)
    raise typer.Exit(code=code)


@app.command()
@_errors_exit_2
def report(
    out: Optional[str] = typer.Argument(None, help="Run directory or object-store URI."),
    history: Optional[str] = typer.Option(None, help="Folder (or object-store prefix) of run directories: metric "
                                                     "trends across runs."),
    recommend: Optional[Path] = typer.Option(None, help="Run directory: write skill-editing-pipeline.md."),
    html: bool = typer.Option(True, help="Also write the .html page."),
    wide: bool = typer.Option(False, help="Terminal table: every metric column, however wide."),
    metric: Optional[str] = typer.Option(None, help="--recommend: rank by this metric (default: the first quality metric)."),
    thresholds: Optional[Path] = typer.Option(None, help="--recommend: YAML {metric: {max|min: value, advice: text}}."),
):
    """Print the leaderboard of a run directory and write leaderboard.md/.html (or --history / --recommend)."""
    given = [x for x in (out, history, recommend) if x is not None]
    if len(given) != 1:
        raise EditbenchError("give exactly one of: a run directory, --history RUNS_ROOT, or --recommend RUN_DIR.")
    if history is not None:
        with staged(history, outputs=False) as local:
            typer.echo(write_history(local, html=html))
    elif recommend is not None:
        typer.echo(write_recommendation(recommend, metric=metric, thresholds=thresholds))
    else:
        with staged(out) as local:   # an object-store run: a local copy, its new report files uploaded
            r = build_report(local)
            write_report(local, html=html, report=r)
        typer.echo(render_terminal(r, wide=wide), nl=False)
        typer.echo(f"wrote {out}/leaderboard.md" + (f" and {out}/leaderboard.html" if html else ""), err=True)
        if report_ranking(r).error:                  # the primary is NaN on every row: an error, files kept
            raise EditbenchError(f"run {out}: {report_ranking(r).error}.")


@app.command()
@_errors_exit_2
def arena(
    runs: list[Path] = typer.Argument(..., help="Finished run directories of one suite (votes go to the first)."),
    port: int = typer.Option(8765, help="TCP port."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on (default: this machine only)."),
    prefer_disagreement: bool = typer.Option(False, help="Show first the pairs on which the automatic metrics "
                                                         "disagree (within the balance over pipeline pairs)."),
    seed: Optional[int] = typer.Option(None, help="Seed of the pair order and left/right draws (default: random)."),
):
    """Blind side-by-side votes on two pipelines' outputs, served at http://HOST:PORT/ (docs/arena.md)."""
    from reports.arena_app import serve

    serve(runs, host=host, port=port, prefer_disagreement=prefer_disagreement, seed=seed)


@app.command()
def gate(
    baseline: str = typer.Argument(..., help="Baseline run directory or object-store URI, or 'accepted': the "
                                             "accepted baseline of the candidate's suite (editbench baseline accept)."),
    candidate: str = typer.Argument(..., help="Candidate run directory or object-store URI."),
    config: Optional[Path] = typer.Option(None, help="gates.yaml: tolerances, confidence, family, pipeline pairs."),
    force: bool = typer.Option(False, help="Gate even when the suites (name or content hash) differ."),
    allow_partial: bool = typer.Option(False, help="Gate what both runs ran even when the candidate lacks pipelines, "
                                                   "metrics, tasks or seeds of the baseline."),
    out: Optional[Path] = typer.Option(None, help="Where to write gate.md/.json/-junit.xml (default: CANDIDATE)."),
):
    """Regression gate: exit 0 pass, 1 regression or new failures, 2 unusable input (files are always written)."""
    if baseline == "accepted":
        try:
            found = baseline_for(candidate)
        except EditbenchError as e:
            typer.echo(f"editbench: error: {e}", err=True)
            raise typer.Exit(code=2) from None
        if found is None:
            typer.echo(f"editbench: error: the suite of {candidate} has no accepted baseline yet under "
                       f"{root_of(Path(candidate))} (editbench baseline accept RUN).", err=True)
            raise typer.Exit(code=2)
        baseline = str(found)
    try:
        with staged(baseline, outputs=False) as b, staged(candidate, outputs=False) as c:
            result = run_gate(b, c, config=load_gate_config(config), force=force, allow_partial=allow_partial)
            _name_runs(result, {str(b): baseline, str(c): candidate})   # URIs, not their local copies
    except EditbenchError as e:   # an unusable gates.yaml, an unreachable location
        result = error_result(baseline, candidate, str(e))
    except Exception as e:  # noqa: BLE001 - a crash is no verdict: exit 2 with the files, never 1
        result = error_result(baseline, candidate, " ".join(
            f"the gate stopped on an internal error ({type(e).__name__}: {e}); please report it.".split()))
    try:
        with staged(str(out or candidate), outputs=False) as dest:
            write_gate(result, dest)
    except (OSError, EditbenchError) as e:
        typer.echo(f"editbench: warning: could not write the gate files into {out or candidate}: "
                   f"{e.strerror or e}", err=True)
    typer.echo(to_terminal(result, files=str(out or candidate)), nl=False)   # the full table is in gate.md
    _step_summary(to_markdown(result))
    if result.error is not None:
        typer.echo(f"editbench: error: {result.error}", err=True)
    else:
        typer.echo(result.summary(), err=True)
    raise typer.Exit(code=result.exit_code)


@app.command()
@_errors_exit_2
def rescore(
    out: str = typer.Argument(..., help="Run directory or object-store URI of a finished run."),
    scorers: Optional[str] = typer.Option(None, help="Comma-separated scorers to add or recompute, e.g. judge,lpips."),
    pairwise: Optional[str] = typer.Option(None, help="A,B: the judge votes between pipelines A and B on every task "
                                                      "and seed (both orders), into <run>/votes/."),
    config: Optional[Path] = typer.Option(None, help="YAML {scorer: {option: value}} (e.g. the judge's model and "
                                                     "base_url); the key stays in the environment."),
    model: Optional[str] = typer.Option(None, help="Judge model (overrides the config)."),
    base_url: Optional[str] = typer.Option(None, help="Judge endpoint, e.g. http://127.0.0.1:8000/v1 (default: "
                                                      "$OPENAI_BASE_URL, else OpenAI)."),
    force: bool = typer.Option(False, help="Recompute rows already scored with the same settings."),
    report: bool = typer.Option(True, help="Rewrite the leaderboard afterwards."),
):
    """Add scorer columns to a finished run from its stored outputs; its pipelines are not run again."""
    names = [s.strip() for s in (scorers or "").split(",") if s.strip()]
    pair = [p.strip() for p in (pairwise or "").split(",") if p.strip()]
    if not names and not pair:
        raise EditbenchError("name the scorers to add with --scorers (e.g. --scorers judge), or --pairwise A,B.")
    if pairwise is not None and len(pair) != 2:
        raise EditbenchError(f"--pairwise takes two pipeline labels A,B, got {pairwise!r}.")
    options = scorer_options(config, [*names, *(["judge"] if pair and "judge" not in names else [])], model=model,
                             base_url=base_url)
    if names:
        result = run_rescore(out, scorers=names, options={k: v for k, v in options.items() if k in names},
                             force=force)
        typer.echo(f"editbench: rescored {out}: {result.summary()}", err=True)
    if pair:
        votes = judge_pairs(out, a=pair[0], b=pair[1], options=options.get("judge"))
        typer.echo(f"editbench: pairwise {votes.summary()}" + (f"; votes in {votes.votes_file}" if votes.votes_file
                                                              else ""), err=True)
    if report and names:
        with staged(out) as local:
            typer.echo(write_report(local), nl=False)


@app.command()
@_errors_exit_2
def skill(
    image: str = typer.Option(..., help="The photo to edit: a path, or pkg:PACKAGE/FILE (e.g. pkg:skimage/data/astronaut.png)."),
    edit: str = typer.Option(..., help="The edit, in words (\"remove the bin\", \"make it sunset\")."),
    mask: Optional[str] = typer.Option(None, help="Mask image of the region to edit (white = edit)."),
    sam_box: Optional[str] = typer.Option(None, help="SAM prompt: a box x0,y0,x1,y1 around the object."),
    sam_point: Optional[str] = typer.Option(None, help="SAM prompt: a point x,y on the object."),
    runs: Optional[Path] = typer.Option(None, help="Folder of measured runs to take the pipeline and settings from."),
    out: Optional[Path] = typer.Option(None, help="Also write the recipe to this file."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of Markdown."),
):
    """Recommend a pipeline and settings for one edit of one image, from measured runs (docs/skill.md)."""
    from reports.skill import recommend, to_json, to_markdown


    load_image(_image_path(image))        # a missing, unreadable or oversized image is one sentence, exit 2
    if mask is not None:
        load_image(_image_path(mask))
    recipe = recommend(image, edit, mask=mask, sam_box=sam_box, sam_point=sam_point, runs=runs)
    text = to_json(recipe) if as_json else to_markdown(recipe)
    if out is not None:
        out.write_text(text, encoding="utf-8")
    typer.echo(text, nl=False)


@app.command()
@_errors_exit_2
def score(
    source: str = typer.Option(..., help="The original photo: a path or pkg:PACKAGE/FILE."),
    output: Path = typer.Option(..., help="The edited image."),
    mask: Optional[str] = typer.Option(None, help="Mask of the edited region (white = edited)."),
    scorers: str = typer.Option("texture,seam,background", help="Comma-separated scorers."),
):
    """Score one produced edit against the QA checklist: a line per metric, pass or fail; exit 1 on a fail."""
    checks = check_edit(_image_path(source), output, mask=_image_path(mask) if mask else None,
                        scorers=[x.strip() for x in scorers.split(",") if x.strip()])
    for c in checks:
        typer.echo(c.line())
    raise typer.Exit(code=1 if any(c.failed for c in checks) else 0)


def _operator(config: Optional[Path], allow_endpoints: list[Path], key_envs: list[str]):
    """The operator's side of the credential rule (harness.core.credentials): config file and flags."""
    from harness.contract.spec import read_yaml_mapping
    from harness.core.credentials import operator, operator_config_path

    path = operator_config_path(config)
    data = read_yaml_mapping(path, what="operator config", empty_ok=True) if path else None
    return operator(config=data, config_path=path, allow_endpoints=allow_endpoints, key_envs=key_envs)


def _image_path(spec: str) -> Path:
    """A local image path, or a file inside an installed package written pkg:PACKAGE/FILE; must exist."""
    p = resolve_data_root(spec, Path.cwd()) if spec.startswith(PKG_PREFIX) else Path(spec)
    if not p.is_file():
        raise EditbenchError(f"image {spec} does not exist ({p}).")
    return p


def _name_runs(result, names: dict[str, str]) -> None:
    """Replace the local copies' paths in a gate result by the object-store locations the user gave."""
    names = {local: given for local, given in names.items() if is_uri(given)}

    def fix(text):
        for local, given in names.items():
            text = text.replace(local, given) if isinstance(text, str) else text
        return text

    result.baseline, result.candidate = fix(result.baseline), fix(result.candidate)
    result.warnings = [fix(w) for w in result.warnings]
    result.error = fix(result.error)


@app.command()
@_errors_exit_2
def nightly(
    spec: Path = typer.Argument(..., help="Nightly spec YAML: root, suites, default pipelines/seeds/scorers, mlflow, site."),
    root: Optional[str] = typer.Option(None, help="Runs root (default: the spec's root)."),
    night: Optional[str] = typer.Option(None, help="Name of this night's run folders (default: today's UTC date); "
                                                   "rerun with the same name to resume."),
    progress: bool = typer.Option(True, help="Show the progress bars."),
):
    """Run every suite, report, gate against its accepted baseline, update history, MLflow and the site;
    exit with the worst code (0 pass, 1 regression, 2 unusable, 3/4 as run)."""
    outcomes = run_nightly(load_nightly(spec), root=root, night=night, progress=progress, spec_file=spec)
    for o in outcomes:
        typer.echo(o.line())
    raise typer.Exit(code=max(o.code for o in outcomes))


baseline_app = typer.Typer(no_args_is_help=True, help="Accepted baselines of a nightly root.")
app.add_typer(baseline_app, name="baseline")


@baseline_app.command("accept")
@_errors_exit_2
def baseline_accept(
    run: Optional[Path] = typer.Argument(None, help="The run (ROOT/SUITE/RUN_ID) to accept as its suite's baseline."),
    latest: Optional[Path] = typer.Option(None, help="A root: accept every suite's newest complete run."),
    why: str = typer.Option("", help="Why this run is the baseline (kept in the log)."),
    force: bool = typer.Option(False, help="Accept although the suite content or metric versions changed."),
):
    """Record the accepted baseline of a suite (append-only log ROOT/baselines.jsonl)."""
    if (run is None) == (latest is None):
        raise EditbenchError("give either a run directory or --latest ROOT.")
    entries = accept_latest(latest, why=why, force=force) if latest is not None else [accept(run, why=why, force=force)]
    for b in entries:
        typer.echo(f"accepted {b.run} as the baseline of suite {b.suite}")


@app.command()
@_errors_exit_2
def site(
    root: Path = typer.Argument(..., help="Nightly root (ROOT/SUITE/RUN_ID)."),
    out: Path = typer.Option(..., help="Folder of the static site."),
):
    """Write a static leaderboard site across suites and nights (index.html, a page per suite, each run)."""
    typer.echo(f"wrote {write_site(root, out)}")


@app.command()
@_errors_exit_2
def track(
    run: Path = typer.Argument(..., help="Run directory to log."),
    mlflow: Optional[str] = typer.Option(None, help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI)."),
):
    """Log one run into MLflow (params, metrics per pipeline, tags, artefacts); a failure is a warning."""
    run_id = log_run(run, tracking_uri=mlflow)
    if run_id:
        typer.echo(f"logged {run} as MLflow run {run_id}")


@app.command("list")
@_errors_exit_2
def list_(what: str = typer.Argument(..., help="suites | pipelines | scorers | masks")):
    """List suites, pipelines, scorers or mask generators with their availability."""
    typer.echo(describe(what))


@app.command()
@_errors_exit_2
def doctor():
    """Report devices, Ray and weights directories."""
    typer.echo(doctor_report())


@app.command()
@_errors_exit_2
def cluster(
    nodes: int = typer.Option(2, help="Ray nodes (the first is the head)."),
    num_cpus: int = typer.Option(1, help="CPUs of each node."),
    port: int = typer.Option(6390, help="The head's GCS port on 127.0.0.1 (give it to `run --address`)."),
):
    """Run a multi-node Ray cluster on 127.0.0.1 in the foreground until Ctrl-C or SIGTERM (docs/cluster.md)."""
    serve_loopback_cluster(nodes=nodes, num_cpus=num_cpus, port=port)


suite_app = typer.Typer(no_args_is_help=True, help="Build and validate suite files.")
app.add_typer(suite_app, name="suite")


def _csv(v: Optional[str], cast=str):
    return None if v is None else [cast(x.strip()) for x in v.split(",") if x.strip()]


@suite_app.command("build")
@_errors_exit_2
def suite_build(
    kind: str = typer.Argument(..., help="face-regen | hand-regen | removal | outpaint | sdedit-sweep | instruct | "
                                         "dilation-sweep | guidance-mask-sweep | prompt-scope-sweep | "
                                         "mask-leakage-sweep | background-replace | sky-replace | pie-bench | "
                                         "brushbench | magicbrush | emu-edit | gedit-bench | imgedit"),
    out: Path = typer.Option(..., help="Suite YAML to write."),
    images: Optional[Path] = typer.Option(None, help="Folder of input images."),
    from_suite: Optional[Path] = typer.Option(None, "--from", help="Base suite of a *-sweep builder."),
    n: Optional[int] = typer.Option(None, "-n", "--n", help="How many tasks/faces (face-regen: default 20)."),
    name: Optional[str] = typer.Option(None, help="Suite name (default: the file name)."),
    version: Optional[str] = typer.Option(None, help="Suite version (default 1)."),
    description: Optional[str] = typer.Option(None),
    pipelines: Optional[str] = typer.Option(None, help="Default pipelines, comma-separated."),
    seeds: Optional[str] = typer.Option(None, help="Default seeds, comma-separated."),
    scorers: Optional[str] = typer.Option(None, help="Default scorers, comma-separated."),
    prompt: Optional[str] = typer.Option(None, help="Prompt of every task."),
    negative_prompt: Optional[str] = typer.Option(None),
    prompts: Optional[Path] = typer.Option(None, help="CSV image,prompt of per-image prompts."),
    masks: Optional[Path] = typer.Option(None, help="removal: folder of mask files."),
    boxes: Optional[Path] = typer.Option(None, help="removal: CSV image,x0,y0,x1,y1."),
    margins: Optional[str] = typer.Option(None, help="outpaint: L,R,T,B px (or one number)."),
    aspect: Optional[str] = typer.Option(None, help="outpaint: target aspect ratio W:H."),
    strengths: Optional[str] = typer.Option(None, help="sdedit-sweep: strengths, comma-separated."),
    csv: Optional[Path] = typer.Option(None, help="instruct: CSV image,instruction."),
    holes: Optional[int] = typer.Option(None, help="reconstruction: holes per image (default 1)."),
    hole_size: Optional[float] = typer.Option(None, help="reconstruction: hole side / short image side (default 0.25)."),
    dilate: Optional[int] = typer.Option(None, help="face-regen: px added to the mask ellipse (default 8)."),
    min_face: Optional[int] = typer.Option(None, help="face-regen: smallest face side kept, px."),
    face_weights: Optional[Path] = typer.Option(None, help="face-regen: insightface folder with det_*.onnx."),
    pose_weights: Optional[Path] = typer.Option(None, help="face-regen: OpenPose folder; renders pose controls."),
    detector: Optional[str] = typer.Option(None, help="face-regen: dlib-hog (default) | dlib-mmod | scrfd | lbp-cascade | auto."),
    variants: Optional[str] = typer.Option(None, help="face-regen: masks per face: ellipse, ellipse-wide, box."),
    sigmas: Optional[str] = typer.Option(None, help="mask-leakage-sweep: kept-region noise std values (0-255)."),
    noise_seed: Optional[int] = typer.Option(None, help="mask-leakage-sweep: noise generator seed (default 0)."),
    dilations: Optional[str] = typer.Option(None, help="dilation-sweep: px values, comma-separated."),
    guidance: Optional[str] = typer.Option(None, help="guidance-mask-sweep: guidance values."),
    mask_scales: Optional[str] = typer.Option(None, help="guidance-mask-sweep: mask scales."),
    object_prompt: Optional[str] = typer.Option(None, help="prompt-scope-sweep: object-only prompt."),
    mask_model: Optional[str] = typer.Option(None, help="background-/sky-replace: mask generator (default sam-vit-b)."),
    mask_weights: Optional[str] = typer.Option(None, help="background-/sky-replace: its weights folder, or random."),
    scene: Optional[str] = typer.Option(None, help="background-replace: the new scene around the subject."),
    root: Optional[Path] = typer.Option(None, help="Benchmark importers: the dataset's own top folder."),
    task_kind: Optional[str] = typer.Option(None, "--kind", help="pie-bench: inpaint|instruct; magicbrush: "
                                                               "instruct|inpaint (the tasks' kind)."),
    split: Optional[str] = typer.Option(None, help="magicbrush / emu-edit: keep <split>-*.parquet shards."),
    mode: Optional[str] = typer.Option(None, help="magicbrush: turn | session."),
    painting: Optional[str] = typer.Option(None, help="brushbench: inpainting | outpainting | both."),
    language: Optional[str] = typer.Option(None, help="gedit-bench: en | cn (default both)."),
    drop_identical: Optional[bool] = typer.Option(None, "--drop-identical", help="emu-edit: leave out rows whose "
                                                  "input and output captions are identical."),
):
    """Write a suite YAML from a folder of images (or, for sweeps, from a base suite), then validate it."""
    given = dict(images=images, from_suite=from_suite, n=n, name=name, version=version, description=description,
                 pipelines=_csv(pipelines), seeds=_csv(seeds, int), scorers=_csv(scorers), prompt=prompt,
                 negative_prompt=negative_prompt, prompts=prompts, masks=masks, boxes=boxes, margins=margins,
                 aspect=aspect, strengths=_csv(strengths, float), csv=csv, holes=holes, hole_size=hole_size, dilate=dilate,
                 min_face=min_face,
                 face_weights=face_weights, pose_weights=pose_weights, dilations=_csv(dilations, int),
                 guidance=_csv(guidance, float), mask_scales=_csv(mask_scales, float), object_prompt=object_prompt,
                 mask_model=mask_model, mask_weights=mask_weights, scene=scene, root=root, task_kind=task_kind, split=split,
                 mode=mode, painting=painting, language=language, drop_identical=drop_identical, detector=detector,
                 variants=_csv(variants), sigmas=_csv(sigmas, float), noise_seed=noise_seed)
    try:
        path = build_suite(kind, out=out, **{k: v for k, v in given.items() if v is not None})
    except ValueError as e:
        if isinstance(e, EditbenchError):
            raise
        raise EditbenchError(f"bad option value: {e}") from None
    typer.echo(f"wrote {path}", err=True)


@suite_app.command("validate")
@_errors_exit_2
def suite_validate(
    suite: str = typer.Argument(..., help="Built-in suite name or suite YAML path."),
    pipelines: Optional[str] = typer.Option(None, help="Check against these pipelines (comma-separated; "
                                                       "default: the suite's)."),
    weights: bool = typer.Option(True, help="Also check that the pipelines' and scorers' weights are present."),
):
    """The checks `run` makes before any work (files, masks, overrides against the pipelines, scorers,
    weights): every problem listed, exit 2 if any; else the suite's hash."""
    typer.echo(validate_for_run(suite, pipelines=_csv(pipelines), weights=weights))


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
