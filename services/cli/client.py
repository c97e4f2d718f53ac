"""The CLI's HTTP client of the docsight API: the API key (--api-key, DOCSIGHT_API_KEY or the
server's first key), requests that resolve id prefixes and wait out the rate limit, and the
--url option every client command takes."""

from __future__ import annotations

import re
import time
from typing import Annotated, Any

import httpx
import typer
from rich.markup import escape

from services.cli.output import console

UrlOption = Annotated[
    str,
    typer.Option(envvar="DOCSIGHT_URL", help="base URL of a running docsight API"),
]
DEFAULT_URL = "http://127.0.0.1:8000"

_options: dict[str, str | None] = {"api_key": None}


def set_api_key(api_key: str | None) -> None:
    """The key of the global --api-key option (None: look it up, see _api_key)."""
    _options["api_key"] = api_key


def _api_key() -> str | None:
    """--api-key / DOCSIGHT_API_KEY, else the key the server wrote on its first start."""
    if _options["api_key"]:
        return _options["api_key"]
    from services.settings import Settings

    try:
        path = Settings().api_key_file
        return path.read_text(encoding="ascii").strip() or None
    except (OSError, ValueError):
        return None


def _client(url: str) -> httpx.Client:
    key = _api_key()
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=url, timeout=httpx.Timeout(120.0, connect=5.0), headers=headers)


def _call(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """The response; a document or job id in the path or in `document_ids` may be a unique
    prefix of one (see _resolve_id); over the key's rate limit (429 with Retry-After), waits
    and retries for up to a minute."""
    match = _ID_PATH.fullmatch(path)
    if match:
        kind, given, rest = match.groups()
        path = f"/v1/{kind}s/{_resolve_id(client, kind, given)}{rest}"
    body = kwargs.get("json")
    if isinstance(body, dict) and body.get("document_ids"):
        kwargs["json"] = body | {
            "document_ids": [_resolve_id(client, "document", i) for i in body["document_ids"]]
        }
    return _send(client, method, path, **kwargs)


FULL_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_ID_PATH = re.compile(r"/v1/(document|job)s/([^/?]+)(.*)")
_resolved: dict[tuple[str, str], str] = {}


def _resolve_id(client: httpx.Client, kind: str, given: str) -> str:
    """The full id of the caller's document (or job, of the latest 100) that `given` is an id
    of or a unique prefix of, as `docsight status` shows them; exits with the candidates when
    the prefix is ambiguous, or when no id starts with it."""
    if FULL_ID.fullmatch(given) or (kind, given) in _resolved:
        return _resolved.get((kind, given), given)
    response = _send(client, "GET", f"/v1/{kind}s")
    if response.status_code != 200:
        console.print(
            f"[red]{response.status_code}: cannot list {kind}s to find "
            f"{escape(given)!r}: {escape(response.text[:200])}[/red]"
        )
        raise typer.Exit(2)
    items: list[dict[str, Any]] = response.json()[f"{kind}s"]
    prefix = given.strip().lower()
    found = [i for i in items if i["id"] == given] or [
        i for i in items if prefix and i["id"].lower().startswith(prefix)
    ]
    if len(found) == 1:
        _resolved[(kind, given)] = found[0]["id"]
        return _resolved[(kind, given)]
    if not found:
        where = "`docsight status` lists them" if kind == "document" else "GET /v1/jobs"
        console.print(f"[red]no {kind} id starts with {escape(given)!r}[/red] ({where})")
        raise typer.Exit(2)
    console.print(
        f"[red]{escape(given)!r} is the start of {len(found)} {kind} ids; "
        "give more of the id:[/red]"
    )
    for item in found:
        about = (
            f"{item.get('filename', '')}  {item.get('status', '')}"
            if kind == "document"
            else f"{item.get('kind', '')} of {item.get('document_id', '')[:8]}  "
            f"{item.get('status', '')}"
        )
        console.print(f"  {item['id']}  {escape(about)}")
    raise typer.Exit(2)


def _send(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    deadline = time.monotonic() + 60
    while True:
        try:
            response = client.request(method, path, **kwargs)
        except httpx.ConnectError:
            console.print(
                f"[red]No docsight API at {client.base_url}.[/red] Start it with `make run` "
                "or `docsight serve`, or pass --url."
            )
            raise typer.Exit(2) from None
        retry_after = response.headers.get("retry-after", "")
        if (
            response.status_code != 429
            or not retry_after.isdigit()
            or response.json().get("error_code") != "rate_limited"
            or time.monotonic() + int(retry_after) > deadline
        ):
            break
        time.sleep(int(retry_after))
    if response.status_code == 401:
        console.print(
            f"[red]401: {response.json().get('detail')}.[/red] Pass --api-key "
            "(before the command) or set DOCSIGHT_API_KEY; the first key is in "
            "<data_dir>/api_key."
        )
        raise typer.Exit(2)
    return response


def _fail_unless_ok(response: httpx.Response) -> dict[str, Any]:
    if response.status_code != 200:
        console.print(f"[red]{response.status_code}: {response.json().get('detail')}[/red]")
        raise typer.Exit(1)
    body: dict[str, Any] = response.json()
    return body
