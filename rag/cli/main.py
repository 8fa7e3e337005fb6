"""The ``rag`` command: index, ask, serve, eval, fit, add, remove."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
from rich.text import Text

from rag.cli.console import configure_logging, console, open_service, out, progress_bar
from rag.cli.fitting import fit
from rag.cli.keys import key_path, new_key, print_new_key, with_api_key
from rag.config import Settings, load_settings
from rag.engine.service import QAService
from rag.errors import BadRequest, ConfigError, RagError, environmental, explain_os_error
from rag.records import Answer, DocumentChange


class Commands(click.Group):
    """Every command: the package's own errors and the machine's (a folder where a file belongs, a
    read-only or full disk) end in one line that says what is wrong, never a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except RagError as error:
            raise click.ClickException(str(error)) from error
        except OSError as error:
            if not environmental(error):
                raise
            raise click.ClickException(explain_os_error(error)) from error


@click.group(cls=Commands)
@click.option(
    "--config", "config_path", type=click.Path(path_type=Path), help="TOML settings (default config/rag.toml)"
)
@click.option("-v", "--verbose", is_flag=True, help="Also log the service's debug messages.")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None, verbose: bool) -> None:
    """Answer questions over the documents in seeds/, with exact cited spans."""
    configure_logging(verbose)
    if config_path:
        os.environ["RAG_CONFIG"] = str(config_path)  # server workers read the same file
    try:
        ctx.obj = load_settings(config_path)
    except ConfigError as error:
        raise click.ClickException(str(error)) from error


@main.command()
@click.option("--force", is_flag=True, help="Rebuild even if the index is current.")
@click.pass_obj
def index(settings: Settings, force: bool) -> None:
    """Build the index (or rebuild it when stale)."""
    service = open_service(settings, force_rebuild=force)
    manifest = service.data.manifest
    state = f"rebuilt ({service.rebuilt})" if service.rebuilt else "up to date"
    out.print(
        f"index {manifest.version} {state}: {len(service.data.documents)} documents, "
        f"{manifest.chunks} chunks, {manifest.sentences} sentences, {manifest.index_kind} index"
    )
    for skip in service.skipped:
        console.print(f"[yellow]skipped[/] {skip.reason}")


@main.command()
@click.argument("question")
@click.option("-k", "--top-k", type=int, default=None, help="Passages to list.")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON instead.")
@click.pass_obj
def ask(settings: Settings, question: str, top_k: int | None, as_json: bool) -> None:
    """Answer QUESTION from the sources, with highlighted citations."""
    service = open_service(settings)
    try:
        answer = service.ask(question, top_k)
    except BadRequest as error:
        raise click.ClickException(str(error)) from error
    if as_json:
        import msgspec

        out.print_json(msgspec.json.encode(answer).decode())
    else:
        print_answer(service, answer)


def print_answer(service: QAService, answer: Answer) -> None:
    style = "bold yellow" if answer.abstained else "bold green"
    out.print(Text(answer.answer, style=style))
    out.print(f"[dim]confidence {answer.confidence:.2f}, {answer.timings_ms['total']:.1f} ms[/]")
    shown = answer.citations or []
    for n, c in enumerate(shown, 1):
        doc = service.document(c.doc_id)
        left, right = max(0, c.start - 120), min(len(doc.text), c.end + 120)
        line = Text()
        line.append(f"[{n}] {c.doc_id}[{c.start}:{c.end}]  ", style="cyan")
        line.append(" ".join(doc.text[left : c.start].split()[-15:]) + " ", style="dim")
        line.append(c.quote, style="black on yellow")
        line.append(" " + " ".join(doc.text[c.end : right].split()[:15]), style="dim")
        out.print(line)
    if answer.abstained:
        out.print("[dim]nearest passages:[/]")
        for p in answer.passages[:3]:
            line = Text("  ")
            line.append(f"{p.doc_id}[{p.start}:{p.end}] ", style="cyan")
            line.append(" ".join(p.text.split())[:160] + "…")  # a Text, never markup: documents may hold "[...]"
            out.print(line)


@main.command()
@click.option("--host", default=None, help="Default: [server] host.")
@click.option("--port", type=int, default=None, help="Default: [server] port.")
@click.option("--workers", type=int, default=None, help="Server processes. Default: [server] workers.")
@click.option(
    "--log-format", type=click.Choice(["json", "text"]), default="json", show_default=True, help="Log line format."
)
@click.option("--access-log/--no-access-log", default=True, show_default=True, help="One log line per request.")
@click.option(
    "--generate-key", is_flag=True, help="Create a new random API key for writes, store it next to the index, print it."
)
@click.pass_obj
def serve(
    settings: Settings,
    host: str | None,
    port: int | None,
    workers: int | None,
    log_format: str,
    access_log: bool,
    generate_key: bool,
) -> None:
    """Serve the HTTP API and the web page (building the index first if needed)."""
    from rag.http import server
    from rag.http.app import create_app
    from rag.http.observability import logging_config, share_metrics_between_workers

    log_config = logging_config(log_format, level="INFO", access=access_log)  # our access log replaces uvicorn's

    host, port = host or settings.server.host, port or settings.server.port
    workers = workers or settings.server.workers
    settings = with_api_key(settings, generate_key)  # rag.cli.keys
    service = open_service(settings)  # build the index once here, so workers only ever load it
    console.print(f"[green]ready[/] on http://{host}:{port} ({workers} worker(s)); try:", highlight=False)
    example = """{"question": "What does Moscow insist Ukraine must do?"}"""
    command = f"curl -s -X POST http://{host}:{port}/ask -H 'Content-Type: application/json' -d '{example}'"
    console.print(Text(command), soft_wrap=True)  # one line, however narrow the terminal: pasting must work
    if workers == 1:  # serve the engine already loaded rather than loading the model twice
        app = create_app(settings, service_factory=lambda _: service)
        server.run(app, settings.server, host, port, 1, log_level="warning", log_config=log_config, access_log=False)
    else:
        del service
        share_metrics_between_workers()  # /metrics then reports every worker's figures, summed
        server.run(
            "rag.http.app:create_app", settings.server, host, port, workers, log_level="warning",
            log_config=log_config, access_log=False,
        )  # fmt: skip


@main.group()
def key() -> None:
    """The API key that writes (POST /documents, /admin/...) need."""


@key.command(name="new")
@click.pass_obj
def key_new(settings: Settings) -> None:
    """Create a random key next to the index (replacing any older one) and print it once."""
    if settings.security.api_key:
        console.print("[yellow]note:[/] security.api_key is configured and wins over the stored key")
    path = key_path(settings)
    print_new_key(new_key(path), path)


@main.command(name="eval")
@click.option("--set", "gold_path", type=click.Path(exists=True, path_type=Path), default=Path("eval/dev.jsonl"))
@click.option("--json", "json_path", type=click.Path(path_type=Path), default=None, help="Also write the figures here.")
@click.option("--markdown", is_flag=True, help="Print the table as Markdown.")
@click.option("--save-baseline", type=click.Path(path_type=Path), default=None, help="Save each question's outcome.")
@click.option(
    "--baseline", type=click.Path(exists=True, path_type=Path), default=None, help="List questions worse or better."
)
@click.option("--tolerance", type=float, default=None, help="F1 drop that counts as worse (default 0.05).")
@click.pass_obj
def evaluate(
    settings: Settings,
    gold_path: Path,
    json_path: Path | None,
    markdown: bool,
    save_baseline: Path | None,
    baseline: Path | None,
    tolerance: float | None,
) -> None:
    """Run a gold question set through the pipeline and print the metrics.

    With --baseline, exit with status 1 when a question got worse than in the baseline
    (question_f1 and baseline_tolerance come from [tool.rag.eval] in ./pyproject.toml)."""
    from rag.cli.evaluation import compare_with_baseline, evaluate_gold, print_report

    report, items, evaluation = evaluate_gold(settings, gold_path)
    print_report(report, str(gold_path), markdown)
    if json_path:
        json_path.write_text(json.dumps(report.summary, indent=2) + "\n", encoding="utf-8")
    if save_baseline or baseline:
        worse = compare_with_baseline(report, items, evaluation, save_baseline, baseline, tolerance)
        if worse:
            raise SystemExit(1)


# -- documents at run time (rag.engine.live): only the changed document is embedded -----------------


def _print_change(result: DocumentChange) -> None:
    out.print(
        f"{result.doc_id} {result.action}: index {result.index_version}, {result.documents} documents, "
        f"{result.chunks} chunks ({result.chunks_embedded} embedded, {result.chunks_reused} reused) "
        f"in {result.elapsed_ms / 1000:.2f} s"
    )


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--id", "doc_id", default=None, help="Document id (default: from the file name, as for a seed file).")
@click.pass_obj
def add(settings: Settings, file: Path, doc_id: str | None) -> None:
    """Add FILE (.txt or .md) to the index, or replace the document with the same id.

    The file is copied into the seeds folder; only it is chunked and embedded. A server
    running on the same index folder picks the new build up within seconds.
    """
    from rag.documents.loading import read_document
    from rag.engine.live import LiveEngine
    from rag.errors import DocumentError

    try:
        text = read_document(file)
    except DocumentError as error:
        raise click.ClickException(str(error)) from error
    service = open_service(settings)
    with progress_bar() as update:
        try:
            result = LiveEngine.serving(service).upload(text, doc_id=doc_id, filename=file.name, progress=update)
        except BadRequest as error:
            raise click.ClickException(str(error)) from error
    _print_change(result)


@main.command()
@click.argument("doc_id")
@click.pass_obj
def remove(settings: Settings, doc_id: str) -> None:
    """Remove the document DOC_ID from the index and its file from the seeds folder."""
    from rag.engine.live import LiveEngine
    from rag.errors import UnknownDocument

    service = open_service(settings)
    with progress_bar() as update:
        try:
            result = LiveEngine.serving(service).remove(doc_id, progress=update)
        except UnknownDocument as error:
            raise click.ClickException(str(error.args[0])) from error
    _print_change(result)


# -- the PostgreSQL store (rag.index.postgres) ------------------------------------------------


@main.group()
def db() -> None:
    """The PostgreSQL store: schema migrations ([store] dsn, or RAG_STORE__DSN)."""


@db.command()
@click.pass_obj
def upgrade(settings: Settings) -> None:
    """Apply the schema migrations this version needs (each in one transaction)."""
    if not settings.store.dsn:
        raise click.ClickException("set [store] dsn or RAG_STORE__DSN to the database to upgrade")
    try:
        from rag.index.postgres.backend import upgrade as apply_migrations
    except ImportError as error:
        missing = f"the PostgreSQL drivers are missing: pip install -e '.[postgres]' ({error})"
        raise click.ClickException(missing) from error
    before, applied = apply_migrations(settings.store.dsn)
    if applied:
        out.print(f"schema upgraded from version {before} to {applied[-1]} (applied {', '.join(map(str, applied))})")
    else:
        out.print(f"schema is up to date (version {before})")

main.add_command(fit)

if __name__ == "__main__":
    sys.exit(main())
