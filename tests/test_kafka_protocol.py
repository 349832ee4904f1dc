"""What keeps kafka-python 3 working against Kafka 4.x, which removed old protocol versions.

Kafka 4.0 dropped every API version older than Kafka 2.1's (KIP-896; e.g. Produce v0-v2 and
Fetch v0-v3, apache/kafka#18291) and the v0/v1 message formats (KIP-724). kafka-python 3
asks each broker for its ApiVersions and then, per request, uses the highest version both
sides support (kafka/protocol/broker_version_data.py, BrokerVersionData.api_version), so it
lands on current versions. The one way to lose that is to pin `api_version=`: the client then
skips the ApiVersions exchange and uses a fixed table for that release. infra/README.md
("Kafka protocol: kafka-python 3 and Kafka 4") has the whole answer.
"""

from __future__ import annotations

import ast
from pathlib import Path

from kafka.protocol.api_key import ApiKey
from kafka.protocol.broker_version_data import BrokerVersionData
from kafka.protocol.consumer import FetchRequest
from kafka.protocol.producer import ProduceRequest

REPO = Path(__file__).resolve().parent.parent
CLIENTS = {"KafkaProducer", "KafkaConsumer", "KafkaAdminClient"}


def _client_calls() -> list[tuple[str, ast.Call]]:
    calls = []
    for package in ("ingest", "enrich", "flows", "infra"):
        for path in (REPO / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call):
                    name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                    if name in CLIENTS:
                        calls.append((f"{path.relative_to(REPO)}:{node.lineno}", node))
    return calls


def test_no_kafka_client_pins_the_protocol_version() -> None:
    calls = _client_calls()
    assert len(calls) >= 5  # producers, consumers and admin clients are all seen
    pinned = [where for where, call in calls
              if any(k.arg in {"api_version", "broker_version"} for k in call.keywords)
              or any(k.arg is None for k in call.keywords)]  # **kwargs could carry a pin
    assert pinned == []


def test_negotiation_lands_inside_what_a_kafka_4_broker_accepts() -> None:
    # A broker that no longer accepts Produce < 3 or Fetch < 4, as Kafka 4.0.
    broker = BrokerVersionData(api_versions={ApiKey.Produce: (3, 12), ApiKey.Fetch: (4, 17)})
    assert broker.api_version(ProduceRequest) == 12
    assert broker.api_version(FetchRequest) == 17


def test_a_pinned_old_api_version_would_send_what_kafka_4_refuses() -> None:
    """Why the pin is forbidden: the fixed table for 0.10.0 picks versions 4.x removed."""
    pinned = BrokerVersionData(broker_version=(0, 10, 0))
    assert pinned.api_version(ProduceRequest) < 3
    assert pinned.api_version(FetchRequest) < 4
