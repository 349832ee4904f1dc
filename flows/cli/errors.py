"""One line instead of a traceback when a command cannot do its work.

An analyst who runs `newswatch feeds list` with the stack down needs to read "cannot reach
Elasticsearch at http://127.0.0.1:9200: start it with `newswatch stack up` or `make run`",
not forty lines ending in `ConnectionRefusedError`. `explain` maps the errors a command can
meet to that line (None: a real bug, which keeps its traceback); `newswatch --debug` shows
the traceback of every error.
"""

from __future__ import annotations

import socket

import elastic_transport
import httpx
from kafka.errors import KafkaConnectionError, KafkaTimeoutError

from infra.embedded_stack import StackError
from infra.instance_lock import AlreadyRunning
from infra.prefect_server import PrefectServerError
from ingest.common.settings import Settings

HOW_TO_START = "start it with `newswatch stack up` (or `make run`)"


class ServiceError(RuntimeError):
    """The service cannot start or keep running; the message says why and what to do."""


class Unreachable(Exception):
    """A server a command needs does not answer (found before waiting for client timeouts)."""

    def __init__(self, service: str, address: str) -> None:
        self.service = service
        self.address = address
        super().__init__(f"cannot reach {service} at {address}: {HOW_TO_START}")


def require_kafka(settings: Settings, timeout_s: float = 3.0) -> None:
    """Fail fast: kafka-python waits 30 s to bootstrap from a server that is not there."""
    host, port = settings.kafka_host_port
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return
    except OSError:
        raise Unreachable("Kafka", settings.kafka_bootstrap) from None


def explain(exc: BaseException, settings: Settings | None) -> str | None:
    """The one line to print for `exc` or for the error that caused it (a wrapper like
    `IndexUnavailable` around a refused connection), or None when it is not expected."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        message = _explain_one(current, settings)
        if message is not None:
            return message
        current = current.__cause__ or current.__context__
    return None


def require_elasticsearch(settings: Settings, timeout_s: float = 3.0) -> None:
    """Fail fast with the one line, for commands that would report a refused connection in
    their own words."""
    try:
        httpx.get(settings.es_url, timeout=timeout_s)
    except httpx.TransportError:
        raise Unreachable("Elasticsearch", settings.es_url) from None


def _explain_one(exc: BaseException, settings: Settings | None) -> str | None:
    es_url = settings.es_url if settings is not None else "NEWSWATCH_ES_URL"
    kafka = settings.kafka_bootstrap if settings is not None else "NEWSWATCH_KAFKA_BOOTSTRAP"
    if isinstance(exc, Unreachable | ServiceError | StackError | AlreadyRunning
                  | PrefectServerError):
        return str(exc)
    if isinstance(exc, elastic_transport.ConnectionError | elastic_transport.ConnectionTimeout):
        return f"cannot reach Elasticsearch at {es_url}: {HOW_TO_START}"
    if isinstance(exc, KafkaConnectionError) or (
        isinstance(exc, KafkaTimeoutError) and "bootstrap" in str(exc)
    ):
        return f"cannot reach Kafka at {kafka}: {HOW_TO_START}"
    if isinstance(exc, httpx.ConnectError):
        url = str(exc.request.url) if _has_request(exc) else "the server"
        return f"cannot connect to {url}: {exc}"
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused ({exc}): is the stack running? {HOW_TO_START}"
    return None


def _has_request(exc: httpx.ConnectError) -> bool:
    try:
        exc.request  # noqa: B018 - raises RuntimeError when the error has no request
    except RuntimeError:
        return False
    return True
