"""Load newswatch's Kibana saved objects (data view, search, visualisations, map, dashboard).

`make up` runs `python -m infra.kibana_import` once the stack is healthy. Kibana answers 503
for a while after its container reports started, so the import first waits for
`/api/status` to say `available`. It imports with `overwrite=true`: running it again after an
upgrade of the ndjson replaces the objects instead of failing on conflicts, and it is safe to
repeat. Every object Kibana refuses is reported by type, id and reason, and the exit code is 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

SAVED_OBJECTS = Path(__file__).resolve().parent / "kibana" / "saved-objects.ndjson"
DEFAULT_KIBANA_URL = "http://127.0.0.1:5601"


class KibanaImportError(RuntimeError):
    pass


@dataclass(frozen=True)
class ImportResult:
    success_count: int
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _space_prefix(space: str | None) -> str:
    return f"/s/{space}" if space and space != "default" else ""


def _describe_error(item: dict[str, Any]) -> str:
    error = item.get("error") or {}
    kind = error.get("type", "error")
    detail = ""
    if kind == "missing_references":
        missing = error.get("references") or []
        detail = ": " + ", ".join(f"{r.get('type')}/{r.get('id')}" for r in missing)
    elif error.get("message"):
        detail = f": {error['message']}"
    title = f" ({item['meta']['title']})" if item.get("meta", {}).get("title") else ""
    return f"{item.get('type')}/{item.get('id')}{title}: {kind}{detail}"


def wait_until_available(client: httpx.Client, timeout_s: float, poll_s: float = 2.0) -> None:
    """Return once Kibana's overall status is `available`; KibanaImportError after timeout_s."""
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while True:
        try:
            response = client.get("/api/status")
            if response.status_code == 200:
                level = response.json().get("status", {}).get("overall", {}).get("level")
                if level == "available":
                    return
                last = f"status {level!r}"
            else:
                last = f"HTTP {response.status_code}"
        except (httpx.HTTPError, ValueError) as exc:
            last = f"{type(exc).__name__}: {exc}"
        if time.monotonic() + poll_s > deadline:
            raise KibanaImportError(
                f"Kibana at {client.base_url} not available after {timeout_s:.0f}s ({last})"
            )
        time.sleep(poll_s)


def import_saved_objects(
    kibana_url: str,
    ndjson: bytes,
    *,
    space: str | None = None,
    wait_s: float = 0.0,
    auth: tuple[str, str] | None = None,
    timeout_s: float = 60.0,
) -> ImportResult:
    """POST `ndjson` to Kibana's saved-objects `_import` API (overwrite=true)."""
    with httpx.Client(base_url=kibana_url.rstrip("/"), auth=auth, timeout=timeout_s) as client:
        if wait_s > 0:
            wait_until_available(client, wait_s)
        try:
            response = client.post(
                f"{_space_prefix(space)}/api/saved_objects/_import",
                params={"overwrite": "true"},
                headers={"kbn-xsrf": "newswatch"},
                files={"file": ("saved-objects.ndjson", ndjson, "application/ndjson")},
            )
        except httpx.HTTPError as exc:
            raise KibanaImportError(f"cannot reach Kibana at {kibana_url}: {exc}") from exc
    if response.status_code != 200:
        raise KibanaImportError(
            f"Kibana refused the import: HTTP {response.status_code}: {response.text[:500]}"
        )
    body = response.json()
    errors = [_describe_error(item) for item in body.get("errors") or []]
    if not body.get("success") and not errors:
        errors.append(f"import not successful: {body}")
    return ImportResult(success_count=int(body.get("successCount", 0)), errors=errors)


def _auth_from_env() -> tuple[str, str] | None:
    user, password = os.environ.get("KIBANA_USERNAME"), os.environ.get("KIBANA_PASSWORD")
    return (user, password) if user and password else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", default=os.environ.get("KIBANA_URL", DEFAULT_KIBANA_URL))
    parser.add_argument("--file", type=Path, default=SAVED_OBJECTS)
    parser.add_argument("--space", default=os.environ.get("KIBANA_SPACE"))
    parser.add_argument(
        "--wait", type=float, default=300.0, help="seconds to wait for Kibana to be available"
    )
    args = parser.parse_args(argv)
    try:
        ndjson = args.file.read_bytes()
        result = import_saved_objects(
            args.url, ndjson, space=args.space, wait_s=args.wait, auth=_auth_from_env()
        )
    except (OSError, KibanaImportError) as exc:
        print(f"kibana import failed: {exc}", file=sys.stderr)
        return 1
    for error in result.errors:
        print(f"kibana import: {error}", file=sys.stderr)
    print(f"kibana import: {result.success_count} saved objects imported into {args.url}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
