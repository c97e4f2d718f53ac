"""`docsight` command line: the Typer app, its global options, `serve`, and every command
group registered on it. Client commands (they talk to the API) live by subject:
documents.py (ingest, search, status), analysis.py (ask, job, summarize, risks, analyze),
reports.py (report), keys.py and db.py (admin); client.py is their HTTP client and
output.py how they print."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from services.cli.analysis import analyze, ask, job, risks, summarize
from services.cli.client import set_api_key
from services.cli.compare import compare
from services.cli.db import db_app
from services.cli.diff import diff
from services.cli.documents import ingest, search, status
from services.cli.keys import keys_app
from services.cli.obligations import calendar_feed_app, obligations_app
from services.cli.output import console
from services.cli.reindex import reindex
from services.cli.reports import report

app = typer.Typer(help="docsight: contracts and annual reports, searchable with page citations.")
app.add_typer(keys_app, name="keys")
app.add_typer(db_app, name="db")
app.add_typer(obligations_app, name="obligations")
app.add_typer(calendar_feed_app, name="calendar-feed")
SHUTDOWN_GRACE_S = 5  # then waiting requests are cut; threads stop in 3 s each at most


@app.callback()
def _global_options(
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            envvar="DOCSIGHT_API_KEY",
            show_default=False,
            help="API key for client commands (default: the first key, <data_dir>/api_key)",
        ),
    ] = None,
) -> None:
    set_api_key(api_key)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="default: settings api.host")] = None,
    port: Annotated[int | None, typer.Option(help="default: settings api.port")] = None,
) -> None:
    """Run the API (and, on embedded defaults, its worker) in this process."""
    import uvicorn

    from services.api.app import create_app
    from services.runtime.logs import configure_logging
    from services.settings import LOOPBACK_HOSTS, Settings

    settings = Settings()
    host = host or settings.api.host
    port = port or settings.api.port
    if settings.api.auth == "none" and host not in LOOPBACK_HOSTS:
        console.print(
            "[red]api.auth=none serves every caller as the default tenant: "
            "only on a loopback host[/red]"
        )
        raise typer.Exit(2)
    base = f"http://{host}:{port}"
    console.print(
        f"docsight starting on {base} (data in {settings.data_dir.resolve()})\n"
        f"  review:     {base}/review (the web page; enter the key from "
        f"{settings.api_key_file})\n"
        f"  API docs:   {base}/docs (Swagger UI, Authorize takes the key), {base}/redoc\n"
        f"  readiness:  {base}/ready\n"
        f'  upload:     curl -H "Authorization: Bearer $(cat {settings.api_key_file})" '
        f"-F files=@contract.pdf {base}/v1/documents\n"
        f"  or:         .venv/bin/docsight ingest path/to/*.pdf\n"
        f'  search:     .venv/bin/docsight search "liquidated damages"'
    )
    configure_logging(settings.log.format, settings.log.level)  # uvicorn's loggers too
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_config=None,
        log_level=settings.log.level.lower(),
        # requests still waiting (on the LLM) after this are cut: SIGTERM stops
        # the server within ~10 s; unfinished work is re-sent from its rows
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
    )


for command in (ingest, search, status, ask, job, summarize, risks, analyze, report, reindex):
    app.command()(command)  # after serve: `docsight --help` lists them in this order
app.command()(diff)
app.command()(compare)


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    app()


if __name__ == "__main__":
    main()
