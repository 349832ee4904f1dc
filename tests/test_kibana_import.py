"""infra.kibana_import against a local HTTP server that answers like Kibana's saved-objects API.

No Kibana runs here; the server checks what Kibana checks on `_import` (the kbn-xsrf header, a
multipart `file` part named *.ndjson) and answers with Kibana's response shapes, so the
request the importer sends and its handling of each answer are exercised over real sockets.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from infra.embedded_stack import free_port
from infra.kibana_import import (
    SAVED_OBJECTS,
    KibanaImportError,
    import_saved_objects,
    main,
    wait_until_available,
)
from tests.support.threaded_http import serve


@dataclass
class FakeKibana:
    unavailable_for: int = 0  # answer 503 to this many status requests first
    refuse: dict[str, str] = field(default_factory=dict)  # object id -> error type
    status_requests: int = 0
    imports: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _reply(handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def _handler(kibana: FakeKibana) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return

        def do_GET(self) -> None:
            if self.path != "/api/status":
                _reply(self, 404, {"statusCode": 404})
                return
            kibana.status_requests += 1
            if kibana.status_requests <= kibana.unavailable_for:
                _reply(self, 503, {"status": {"overall": {"level": "unavailable"}}})
            else:
                _reply(self, 200, {"status": {"overall": {"level": "available"}}})

        def do_POST(self) -> None:
            url = urlsplit(self.path)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if "kbn-xsrf" not in self.headers:
                _reply(self, 400, {"message": "Request must contain a kbn-xsrf header."})
                return
            header = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
            message = BytesParser(policy=default_policy).parsebytes(header + body)
            parts = {
                p.get_param("name", header="content-disposition"): p for p in message.iter_parts()
            }
            upload = parts.get("file")
            if upload is None or not str(upload.get_filename()).endswith(".ndjson"):
                _reply(self, 415, {"message": "Unsupported file extension"})
                return
            payload = upload.get_payload(decode=True)
            objects = [json.loads(line) for line in payload.decode().splitlines() if line]
            kibana.imports.append(
                {
                    "path": url.path,
                    "query": parse_qs(url.query),
                    "authorization": self.headers.get("Authorization"),
                    "objects": objects,
                }
            )
            errors = [
                {"id": o["id"], "type": o["type"], "meta": {"title": o["attributes"]["title"]},
                 "error": {"type": kibana.refuse[o["id"]],
                           "references": [{"type": "index-pattern", "id": "gone"}]}}
                for o in objects
                if o["id"] in kibana.refuse
            ]  # fmt: skip
            _reply(
                self,
                200,
                {
                    "success": not errors,
                    "successCount": len(objects) - len(errors),
                    "errors": errors or None,
                },
            )

    return Handler


@pytest.fixture
def kibana() -> Iterator[FakeKibana]:
    state = FakeKibana()
    with serve(_handler(state), poll_interval=0.05) as server:
        state.port = server.port
        yield state


def test_imports_every_saved_object_with_overwrite(kibana: FakeKibana) -> None:
    ndjson = SAVED_OBJECTS.read_bytes()
    result = import_saved_objects(kibana.url, ndjson)
    expected = [json.loads(line) for line in ndjson.decode().splitlines()]
    assert result.ok and result.success_count == len(expected) == 8
    (received,) = kibana.imports
    assert received["path"] == "/api/saved_objects/_import"
    assert received["query"] == {"overwrite": ["true"]}
    assert received["objects"] == expected


def test_a_space_imports_under_its_prefix(kibana: FakeKibana) -> None:
    import_saved_objects(kibana.url + "/", SAVED_OBJECTS.read_bytes(), space="analysts")
    assert kibana.imports[0]["path"] == "/s/analysts/api/saved_objects/_import"


def test_refused_objects_are_reported_by_type_id_and_reason(kibana: FakeKibana) -> None:
    kibana.refuse = {"newswatch-articles-map": "missing_references"}
    result = import_saved_objects(kibana.url, SAVED_OBJECTS.read_bytes())
    assert not result.ok
    assert result.success_count == 7
    assert result.errors == [
        "map/newswatch-articles-map (newswatch: articles on the map): "
        "missing_references: index-pattern/gone"
    ]


def test_waits_until_kibana_reports_available(kibana: FakeKibana) -> None:
    kibana.unavailable_for = 3
    with httpx.Client(base_url=kibana.url) as client:
        wait_until_available(client, timeout_s=10, poll_s=0.05)
    assert kibana.status_requests == 4


def test_gives_up_with_the_last_answer_when_kibana_stays_unavailable(kibana: FakeKibana) -> None:
    kibana.unavailable_for = 10**6
    with httpx.Client(base_url=kibana.url) as client, pytest.raises(KibanaImportError) as caught:
        wait_until_available(client, timeout_s=0.3, poll_s=0.05)
    assert "not available" in str(caught.value) and "HTTP 503" in str(caught.value)


def test_unreachable_kibana_is_a_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(KibanaImportError, match="cannot reach Kibana"):
        import_saved_objects(url, b"{}\n", timeout_s=2)


def test_command_line_uses_credentials_from_the_environment(
    kibana: FakeKibana, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KIBANA_USERNAME", "elastic")
    monkeypatch.setenv("KIBANA_PASSWORD", "s3cret")
    assert main(["--url", kibana.url, "--wait", "5"]) == 0
    expected = "Basic " + base64.b64encode(b"elastic:s3cret").decode()
    assert kibana.imports[0]["authorization"] == expected
    assert "8 saved objects imported" in capsys.readouterr().out


def test_command_line_exits_1_when_kibana_refuses_an_object(
    kibana: FakeKibana, capsys: pytest.CaptureFixture[str]
) -> None:
    kibana.refuse = {"newswatch-overview": "conflict"}
    assert main(["--url", kibana.url, "--wait", "0"]) == 1
    assert "dashboard/newswatch-overview" in capsys.readouterr().err
