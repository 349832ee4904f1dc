"""Each channel against a real receiver: a local HTTP server checking the webhook HMAC, an SMTP
server (aiosmtpd) with STARTTLS and login in this process, the embedded Kafka and Elasticsearch.
Failures are classified: worth retrying (down, 5xx) or not (4xx, missing secret)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import logging
import uuid
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from elasticsearch import Elasticsearch
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from enrich.alerts.alert import Alert
from enrich.alerts.channels import (
    ChannelResources,
    DeliveryFailed,
    DeliveryRejected,
    build_channel,
)
from enrich.alerts.notification import Notification, alert_notification
from enrich.alerts.rules.rules_config import ChannelConfig
from enrich.alerts.signature import SIGNATURE_HEADER, verify_signature
from enrich.alerts.webhook_receiver import WebhookReceiver
from infra.embedded_stack import StackEndpoints, free_port

SECRET = "test-secret-Ⅱ"  # non-ASCII on purpose: the key is UTF-8 encoded


def note() -> Notification:
    return alert_notification(Alert(
        id=uuid.uuid4().hex, rule="idlib-ceasefire", severity="high",
        fired_at=dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC), article_id="art-1",
        title="Ceasefire holds in إدلب", url="https://example.org/a/1",
        published=dt.datetime(2024, 5, 1, 11, tzinfo=dt.UTC), topics=["idlib", "syria"],
        matched_terms=["إدلب", "ceasefire"], snippet="the <mark>ceasefire</mark> in …",
    ))


def channel(env: dict[str, str] | None = None, **entry: Any) -> Any:
    entry.setdefault("name", "c")
    http = httpx.Client()
    resources = ChannelResources(http=http, es=entry.pop("es", None),
                                 producer=entry.pop("producer", None), env=env or {})
    return build_channel(ChannelConfig.model_validate(entry), resources)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver(SECRET).start()
    yield server
    server.stop()


# --- webhook ------------------------------------------------------------------------------
def test_webhook_posts_signed_json(receiver: WebhookReceiver) -> None:
    sent = note()
    hook = channel({"HOOK_SECRET": SECRET}, type="webhook", url=receiver.url("/in"),
                   secret_env="HOOK_SECRET", headers={"X-Team": "ops"})
    hook.send(sent)
    (got,) = receiver.received
    assert got.verified  # the receiver recomputed the HMAC over the raw body
    assert verify_signature(got.body, got.headers[SIGNATURE_HEADER.lower()], SECRET)
    assert got.headers[SIGNATURE_HEADER.lower()].startswith("sha256=")
    assert got.headers["x-newswatch-delivery"] == sent.id
    assert got.headers["x-team"] == "ops" and got.path == "/in"
    body = got.json
    assert body["rule"] == "idlib-ceasefire" and body["article_id"] == "art-1"
    assert body["title"] == "Ceasefire holds in إدلب" and body["url"] == "https://example.org/a/1"
    assert body["published"].startswith("2024-05-01T11:00") and body["topics"] == ["idlib", "syria"]
    assert body["matched_terms"] == ["إدلب", "ceasefire"] and "<mark>" in body["snippet"]


def test_webhook_with_the_wrong_secret_is_refused_and_not_retried(
    receiver: WebhookReceiver,
) -> None:
    hook = channel({"S": "wrong"}, type="webhook", url=receiver.url(), secret_env="S")
    with pytest.raises(DeliveryRejected, match="HTTP 401"):
        hook.send(note())
    assert not receiver.received[0].verified


def test_webhook_secret_variable_unset_refuses_to_send_unsigned(
    receiver: WebhookReceiver,
) -> None:
    hook = channel({}, type="webhook", url=receiver.url(), secret_env="NOT_SET_ANYWHERE")
    with pytest.raises(DeliveryRejected, match="NOT_SET_ANYWHERE is not set"):
        hook.send(note())
    assert receiver.received == []


def test_webhook_url_from_environment(receiver: WebhookReceiver) -> None:
    env = {"HOOK_URL": receiver.url("/env"), "S": SECRET}
    channel(env, type="webhook", url_env="HOOK_URL", secret_env="S").send(note())
    assert receiver.received[0].path == "/env"
    with pytest.raises(DeliveryRejected, match="HOOK_URL is not set"):
        channel({}, type="webhook", url_env="HOOK_URL").send(note())


def test_webhook_server_errors_are_retryable_client_errors_are_not(
    receiver: WebhookReceiver,
) -> None:
    hook = channel({"S": SECRET}, type="webhook", url=receiver.url(), secret_env="S")
    receiver.fail_next(1, 503)
    with pytest.raises(DeliveryFailed) as failed:
        hook.send(note())
    assert not isinstance(failed.value, DeliveryRejected)
    receiver.fail_next(1, 429)
    with pytest.raises(DeliveryFailed) as throttled:
        hook.send(note())
    assert not isinstance(throttled.value, DeliveryRejected)
    receiver.fail_next(1, 404)
    with pytest.raises(DeliveryRejected, match="HTTP 404"):
        hook.send(note())


def test_webhook_to_a_closed_port_is_retryable() -> None:
    hook = channel({}, type="webhook", url=f"http://127.0.0.1:{free_port()}/x", timeout_s=2)
    with pytest.raises(DeliveryFailed) as failed:
        hook.send(note())
    assert not isinstance(failed.value, DeliveryRejected)


# --- slack --------------------------------------------------------------------------------
def test_slack_incoming_webhook_message() -> None:
    server = WebhookReceiver(None).start()  # Slack does not sign what it receives
    try:
        channel({"SLACK_URL": server.url("/services/T/B/X")}, type="slack",
                url_env="SLACK_URL").send(note())
        (got,) = server.received
        message = got.json
        assert "idlib-ceasefire" in message["text"]
        section = message["blocks"][0]["text"]
        assert section["type"] == "mrkdwn"
        assert "<https://example.org/a/1|Ceasefire holds in إدلب>" in section["text"]
        assert "*ceasefire*" in section["text"]
    finally:
        server.stop()


# --- email --------------------------------------------------------------------------------
def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
        ]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))
    return cert_path, key_path


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            (envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(envelope.content))
        )
        return "250 OK"


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str,
                  data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"alerts", b"pw-1")
    # handled=False: let aiosmtpd answer a failure with 535 (its default is to stay silent)
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[tuple[Controller, _Inbox, Path]]:
    import ssl

    cert, key = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox = _Inbox()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=free_port(), tls_context=context,
        require_starttls=True, authenticator=_authenticate, auth_require_tls=True,
    )
    controller.start()
    yield controller, inbox, cert
    controller.stop()


def _text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode("utf-8")


def _email_entry(controller: Controller, cert: Path, **more: Any) -> dict[str, Any]:
    return {"type": "email", "host": "127.0.0.1", "port": controller.port,
            "security": "starttls", "ca_file": str(cert), "username": "alerts",
            "password_env": "SMTP_PW", "from": "newswatch@example.org",
            "to": ["analyst@example.org", "desk@example.org"], **more}


def test_email_over_starttls_with_login_has_plain_and_html_parts(
    smtp_server: tuple[Controller, _Inbox, Path],
) -> None:
    controller, inbox, cert = smtp_server
    sent = note()
    channel({"SMTP_PW": "pw-1"}, **_email_entry(controller, cert)).send(sent)
    ((sender, recipients, message),) = inbox.messages
    assert sender == "newswatch@example.org"
    assert recipients == ["analyst@example.org", "desk@example.org"]
    assert message["Subject"].startswith("[newswatch] idlib-ceasefire: Ceasefire holds in")
    assert message["Message-ID"] == f"<{sent.id}@newswatch>"
    parts = {part.get_content_type(): part for part in message.walk()}
    plain, html = (_text(parts["text/plain"]), _text(parts["text/html"]))
    assert "https://example.org/a/1" in plain and "[ceasefire]" in plain
    assert '<a href="https://example.org/a/1">' in html and "<mark>ceasefire</mark>" in html


def test_email_wrong_password_is_rejected(
    smtp_server: tuple[Controller, _Inbox, Path],
) -> None:
    controller, inbox, cert = smtp_server
    with pytest.raises(DeliveryRejected, match="535"):
        channel({"SMTP_PW": "nope"}, **_email_entry(controller, cert)).send(note())
    assert inbox.messages == []


def test_email_certificate_not_trusted_is_rejected(
    smtp_server: tuple[Controller, _Inbox, Path],
) -> None:
    controller, _, cert = smtp_server
    entry = _email_entry(controller, cert)
    del entry["ca_file"]
    with pytest.raises(DeliveryRejected, match="TLS certificate"):
        channel({"SMTP_PW": "pw-1"}, **entry).send(note())


def test_email_server_down_is_retryable() -> None:
    entry = {"type": "email", "host": "127.0.0.1", "port": free_port(),
             "from": "a@example.org", "to": ["b@example.org"], "timeout_s": 2}
    with pytest.raises(DeliveryFailed) as failed:
        channel({}, **entry).send(note())
    assert not isinstance(failed.value, DeliveryRejected)


# --- kafka, elasticsearch, log ------------------------------------------------------------
@pytest.mark.integration
def test_kafka_channel_produces_keyed_by_rule(embedded_stack: StackEndpoints) -> None:
    topic = f"t{uuid.uuid4().hex[:8]}.alerts-copy"
    producer = KafkaProducer(bootstrap_servers=embedded_stack.kafka_bootstrap)
    sent = note()
    try:
        channel(type="kafka", topic=topic, producer=producer).send(sent)
        # another cluster named explicitly: the channel makes its own producer
        other = channel(type="kafka", topic=topic, bootstrap=embedded_stack.kafka_bootstrap)
        other.send(sent)
        other.close()
    finally:
        producer.close()
    consumer = KafkaConsumer(bootstrap_servers=embedded_stack.kafka_bootstrap, group_id=None,
                             enable_auto_commit=False, consumer_timeout_ms=10000)
    try:
        consumer.assign([TopicPartition(topic, 0)])
        consumer.seek_to_beginning()
        records = [next(consumer), next(consumer)]
    finally:
        consumer.close()
    for record in records:
        assert record.key == b"idlib-ceasefire"
        assert json.loads(record.value)["id"] == sent.id
        assert dict(record.headers)["alert_id"] == sent.id.encode()


@pytest.mark.integration
def test_elasticsearch_channel_indexes_by_alert_id(embedded_stack: StackEndpoints) -> None:
    index = f"nw{uuid.uuid4().hex[:8]}-alert-copies"
    es = Elasticsearch(embedded_stack.es_url)
    sent = note()
    try:
        target = channel(type="elasticsearch", index=index, es=es)
        target.send(sent)
        target.send(sent)  # a repeat overwrites itself
        es.indices.refresh(index=index)
        assert es.count(index=index)["count"] == 1
        assert es.get(index=index, id=sent.id)["_source"]["rule"] == "idlib-ceasefire"
    finally:
        es.options(ignore_status=404).indices.delete(index=index)
        es.close()


def test_elasticsearch_channel_unreachable_is_retryable() -> None:
    target = channel(type="elasticsearch", index="x", url=f"http://127.0.0.1:{free_port()}",
                     timeout_s=2)
    with pytest.raises(DeliveryFailed) as failed:
        target.send(note())
    assert not isinstance(failed.value, DeliveryRejected)


def test_log_channel_writes_one_structured_line(caplog: pytest.LogCaptureFixture) -> None:
    sent = note()
    with caplog.at_level(logging.INFO, logger="newswatch.alerts"):
        channel(type="log", level="warning").send(sent)
    (record,) = [r for r in caplog.records if r.name == "newswatch.alerts"]
    assert record.levelno == logging.WARNING
    assert record.getMessage().startswith("alert: idlib-ceasefire: Ceasefire holds")
    assert "\n" not in record.getMessage()
    fields = vars(record)
    assert fields["alert_id"] == sent.id and fields["alert_rule"] == "idlib-ceasefire"
    assert fields["alert_matched_terms"] == ["إدلب", "ceasefire"]
    assert fields["alert_url"] == "https://example.org/a/1"

