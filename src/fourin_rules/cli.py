"""The ``fourin-rules`` command: a thin shell over the public API.

Exit codes (docs/cli.md):
  0  the command did its work (a run that found leads succeeded: findings are not an error);
  1  embedded tests failed, or ``run --fail-on SEVERITY`` found a finding at or above it;
  2  bad usage or input: an unreadable file, an invalid pack or reference data.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from fourin_rules.errors import FourinError, FourinErrors

app = typer.Typer(
    name="fourin-rules",
    help="Check dispatched cadres' discipline (四进攻坚) with YAML rule packs over event streams.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, soft_wrap=True, emoji=False)
out = Console(soft_wrap=True, emoji=False)

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


def _fail(exc: Exception) -> typer.Exit:
    text = exc.render() if isinstance(exc, FourinError | FourinErrors) else str(exc)
    err.print(text, markup=False, highlight=False)
    return typer.Exit(EXIT_USAGE)


def _params(pairs: list[str]) -> dict[str, Any]:
    """``RULE.param=value`` pairs; values parsed as YAML scalars (numbers, booleans, lists)."""
    import yaml

    out_params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise FourinError("bad-param", f"--param takes RULE.param=VALUE, got {pair!r}")
        out_params[key.strip()] = yaml.safe_load(value)
    return out_params


def _count_lines(paths: list[Path]) -> int | None:
    try:
        total = 0
        for p in paths:
            if p.suffix == ".gz":
                return None
            with p.open("rb") as fh:
                total += sum(
                    chunk.count(b"\n") for chunk in iter(lambda fh=fh: fh.read(1 << 20), b"")
                )
        return total
    except OSError:
        return None


@app.command()
def run(
    events: Annotated[list[Path], typer.Argument(help="Event files (.jsonl, .ndjson, .csv, .gz).")],
    reference: Annotated[
        Path, typer.Option("--reference", "-r", help="Reference data (YAML/JSON or CSV folder).")
    ],
    pack: Annotated[
        list[Path] | None,
        typer.Option("--pack", "-p", help="Pack or override file/folder; default: bundled packs."),
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", help="Override a parameter: RULE.param=VALUE.")
    ] = None,
    disable: Annotated[
        list[str] | None, typer.Option("--disable", help="Switch off a rule by id.")
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format", "-f", help="table, jsonl, csv, or xlsx/html (a report; needs --out)."
        ),
    ] = "table",
    out_file: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write findings here.")
    ] = None,
    quarantine: Annotated[
        Path | None, typer.Option("--quarantine", help="Write refused rows (JSONL) here.")
    ] = None,
    backend: Annotated[
        str,
        typer.Option(
            help="duckdb (default: columnar, DuckDB runs the plan as SQL), spark (the same "
            "SQL on Spark; pip install 'fourin-rules[spark]'), durable (durable_rules, the "
            "incremental engine) or python (the reference matcher)."
        ),
    ] = "duckdb",
    since: Annotated[
        str | None, typer.Option(help="First day to judge absence from (default: first event).")
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(help="End of the data (date or timestamp); later periods are provisional."),
    ] = None,
    fail_on: Annotated[
        str | None,
        typer.Option("--fail-on", help="Exit 1 if a finding has this severity or higher."),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    title: Annotated[
        str | None, typer.Option("--title", help="Title of an xlsx or html report.")
    ] = None,
) -> None:
    """Run rule packs over event files and report the findings."""
    from fourin_rules.engine import Engine
    from fourin_rules.findings import SEVERITY_ORDER
    from fourin_rules.ingest import write_quarantine
    from fourin_rules.reports import print_summary, write_findings
    from fourin_rules.reports.flat import findings_to_csv, findings_to_jsonl

    if fmt not in ("table", "jsonl", "csv", "xlsx", "html"):
        raise _fail(
            FourinError(
                "input-file", f"unknown format {fmt!r}: use table, jsonl, csv, xlsx or html"
            )
        )
    if fmt in ("xlsx", "html") and out_file is None:
        raise _fail(
            FourinError(
                "input-file",
                f"--format {fmt} writes a file: give it with --out FILE",
                suggestion=f"--format {fmt} --out report.{fmt}",
            )
        )
    if fail_on is not None and fail_on not in SEVERITY_ORDER:
        raise _fail(
            FourinError("input-file", f"--fail-on takes high, medium, low or info, not {fail_on!r}")
        )
    try:
        engine = Engine(
            pack or None,
            reference,
            params=_params(param or []),
            disable=disable or [],
            backend=backend,
        )
        total = _count_lines(events) if progress else None
        if progress and total and total > 50_000 and err.is_terminal:
            with Progress(
                TextColumn("读取事件 events"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err,
                transient=True,
            ) as bar:
                task = bar.add_task("events", total=total)
                result = engine.run_files(
                    events, since=since, until=until, progress=lambda n: bar.advance(task, n)
                )
        else:
            result = engine.run_files(events, since=since, until=until)
    except (FourinError, FourinErrors) as exc:
        raise _fail(exc) from None
    findings = result.findings
    if fmt in ("xlsx", "html") and out_file is not None:
        from fourin_rules.reports import write_html, write_xlsx

        write_report = write_xlsx if fmt == "xlsx" else write_html
        extra = {"title": title} if title else {}
        try:
            write_report(findings, out_file, reference=engine.index, stats=result.stats, **extra)
        except OSError as exc:
            raise _fail(FourinError("input-file", f"cannot write {out_file}: {exc}")) from None
    elif out_file is not None:
        write_findings(findings, out_file, "csv" if fmt == "csv" else "jsonl")
    elif fmt == "jsonl":
        sys.stdout.write(findings_to_jsonl(findings))
    elif fmt == "csv":
        sys.stdout.write(findings_to_csv(findings))
    if fmt == "table":
        names = {c.cadre_id: c.name for c in engine.reference.cadres}
        names.update({g.group_id: g.name for g in engine.reference.groups})
        names.update({u.unit_id: u.name for u in engine.reference.units})
        print_summary(findings, out, names)
    s = result.stats
    err.print(
        f"events read {s.read}: valid {s.valid}, duplicate {s.duplicate}, conflict {s.conflict}, "
        f"late {s.late}, quarantined {s.quarantined}; findings {len(findings)}"
        + (f"; written to {out_file}" if out_file else ""),
        highlight=False,
    )
    for q in result.quarantine[:10]:
        err.print(
            f"  {q.file}:{q.line}: {q.field or '-'}: {q.reason}", markup=False, highlight=False
        )
    if len(result.quarantine) > 10:
        err.print(
            f"  ... and {len(result.quarantine) - 10} more (see --quarantine)", highlight=False
        )
    if quarantine is not None:
        write_quarantine(quarantine, result.quarantine)
    for e in result.errors[:10]:
        err.print(
            f"  rule error: {e.rule_id} on {e.event_type} {e.event_id}: {e.message}", markup=False
        )
    if fail_on is not None and any(
        SEVERITY_ORDER[f.severity] >= SEVERITY_ORDER[fail_on] for f in findings
    ):
        raise typer.Exit(EXIT_FINDINGS)


@app.command()
def validate(
    packs: Annotated[
        list[Path] | None, typer.Argument(help="Pack/override files or folders; default: bundled.")
    ] = None,
) -> None:
    """Check packs (YAML, schema, clauses, expressions, templates); errors as file:line:col."""
    from fourin_rules.packs.loader import load_packs
    from fourin_rules.plan import build_plan

    try:
        loaded = load_packs(packs or None)
        plan = build_plan(loaded)
    except (FourinError, FourinErrors) as exc:
        raise _fail(exc) from None
    out.print(f"ok: {len(loaded)} pack(s), {len(plan.rules)} active rule(s)", highlight=False)


@app.command("test")
def test_cmd(
    packs: Annotated[
        list[Path] | None, typer.Argument(help="Pack/override files or folders; default: bundled.")
    ] = None,
    backend: Annotated[
        str, typer.Option(help="durable (default), python, duckdb or spark.")
    ] = "durable",
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="List passing tests too.")
    ] = False,
) -> None:
    """Run the tests embedded in packs; ends with a line 'N passed, N failed'."""
    from fourin_rules.packs.loader import load_packs
    from fourin_rules.packs.testing import run_pack_tests

    try:
        loaded = load_packs(packs or None)
    except (FourinError, FourinErrors) as exc:
        raise _fail(exc) from None
    outcomes = run_pack_tests(loaded, backend)
    for o in outcomes:
        if verbose or not o.passed:
            out.print(o.render(), markup=False, highlight=False)
    passed = sum(o.passed for o in outcomes)
    failed = len(outcomes) - passed
    out.print(f"{passed} passed, {failed} failed", highlight=False)
    if failed:
        raise typer.Exit(EXIT_FINDINGS)


@app.command("list")
def list_cmd(
    packs: Annotated[
        list[Path] | None, typer.Argument(help="Pack/override files or folders; default: bundled.")
    ] = None,
    markdown: Annotated[bool, typer.Option("--markdown", help="A Markdown catalogue.")] = False,
) -> None:
    """List packs and their rules."""
    from rich.table import Table

    from fourin_rules.packs.loader import load_packs
    from fourin_rules.reports.catalogue import rules_markdown

    try:
        loaded = load_packs(packs or None)
    except (FourinError, FourinErrors) as exc:
        raise _fail(exc) from None
    if markdown:
        sys.stdout.write(rules_markdown(loaded))
        return
    table = Table(title="规则包 Rule packs")
    for col in ("pack", "rule", "kind", "severity", "clause", "title", "state"):
        table.add_column(col, no_wrap=col in ("pack", "rule", "kind", "severity", "state"))
    for p in loaded:
        for r in p.file.rules:
            state = "disabled" if (r.id in p.disabled or not r.enabled) else "active"
            table.add_row(
                f"{p.id}@{p.version}",
                r.id,
                r.kind,
                p.severity.get(r.id, r.severity),
                r.clause,
                r.title.zh,
                state,
            )
    out.print(table)


@app.command()
def schema(
    name: Annotated[
        str | None, typer.Argument(help="One model (e.g. card_txn, Finding); default: all.")
    ] = None,
) -> None:
    """Print the JSON Schema of events, reference data and findings."""
    from fourin_rules.errors import suggest
    from fourin_rules.model.schema import json_schemas

    schemas = json_schemas()
    if name is not None:
        if name not in schemas:
            raise _fail(
                FourinError(
                    "unknown-event-type", f"no schema {name!r}", suggestion=suggest(name, schemas)
                )
            )
        schemas = schemas[name]
    sys.stdout.write(json.dumps(schemas, ensure_ascii=False, indent=2) + "\n")


@app.command()
def explain(
    finding_id: Annotated[str, typer.Argument(help="A finding id (or a unique prefix).")],
    findings: Annotated[
        Path, typer.Option("--findings", help="The findings JSONL the id comes from.")
    ],
    pack: Annotated[
        list[Path] | None, typer.Option("--pack", "-p", help="Packs used for the run.")
    ] = None,
    events: Annotated[
        list[Path] | None,
        typer.Option("--events", help="Event files of the run: show the evidence and test it."),
    ] = None,
    reference: Annotated[
        Path | None, typer.Option("--reference", "-r", help="Reference data of the run.")
    ] = None,
) -> None:
    """Show a finding with its rule, parameters and compiled conditions; with --events (and
    --reference), the evidence events and which conditions held on each."""
    from fourin_rules.engine import Engine
    from fourin_rules.explain import explain as explain_finding
    from fourin_rules.ingest import Ingestor

    try:
        lines = findings.read_bytes().splitlines()
    except OSError as exc:
        raise _fail(FourinError("input-file", f"cannot read {findings}: {exc}")) from None
    matches = [
        orjson.loads(x) for x in lines if x.strip() and orjson.loads(x)["id"].startswith(finding_id)
    ]
    if len(matches) != 1:
        raise _fail(
            FourinError("input-file", f"{len(matches)} findings match {finding_id!r} in {findings}")
        )
    try:
        engine = Engine(pack or None, reference)
        evidence: list[dict[str, Any]] = []
        if events:
            wanted = {(e["type"], e["id"]) for e in matches[0].get("evidence", [])}
            ingest = Ingestor(engine.calendar.tz, engine.models)
            evidence = [e for e in ingest.read_files(events) if (e["type"], e["id"]) in wanted]
        shown = explain_finding(engine.plan, engine.env, matches[0], evidence)
    except (FourinError, FourinErrors) as exc:
        raise _fail(exc) from None
    sys.stdout.write(json.dumps(shown, ensure_ascii=False, indent=2) + "\n")


def main() -> None:
    """Entry point of the ``fourin-rules`` script."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
