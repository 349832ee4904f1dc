"""Which addresses a fetch may reach: public ones only, however an internal one is disguised."""

from __future__ import annotations

import pytest

from ingest.fetch.address_guard import is_public_address, refusal_reason


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),  # AWS/GCP/Azure metadata
        ("0.0.0.0", "unspecified"),
        ("0.1.2.3", "unspecified"),
        ("224.0.0.251", "multicast"),
        ("239.255.255.250", "multicast"),
        ("100.64.0.1", "shared address space"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("192.0.2.10", "private"),  # TEST-NET-1: not routable
        ("198.18.0.1", "private"),  # benchmarking
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("fec0::1", "site-local"),
        ("fc00::1", "private"),
        ("fd12:3456:789a::1", "private"),
        ("ff02::1", "multicast"),
        ("fd00:ec2::254", "private"),  # AWS metadata over IPv6
        ("64:ff9b:1::a00:1", "private (local-use NAT64)"),
        ("2001:db8::1", "private"),  # documentation
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "reserved (Teredo)"),
        ("::7f00:1", "reserved"),  # deprecated IPv4-compatible form of 127.0.0.1
    ],
)
def test_internal_addresses_are_refused_with_a_reason(address: str, reason: str) -> None:
    assert refusal_reason(address) == reason
    assert not is_public_address(address)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("::ffff:127.0.0.1", "loopback (IPv4-mapped 127.0.0.1)"),
        ("::ffff:169.254.169.254", "link-local (IPv4-mapped 169.254.169.254)"),
        ("::ffff:10.0.0.1", "private (IPv4-mapped 10.0.0.1)"),
        ("64:ff9b::7f00:1", "loopback (NAT64 127.0.0.1)"),
        ("64:ff9b::a9fe:a9fe", "link-local (NAT64 169.254.169.254)"),
        ("2002:7f00:1::1", "loopback (6to4 127.0.0.1)"),
        ("2002:c0a8:101::1", "private (6to4 192.168.1.1)"),
    ],
)
def test_internal_ipv4_inside_ipv6_forms_is_refused(address: str, reason: str) -> None:
    assert refusal_reason(address) == reason


@pytest.mark.parametrize(
    "address",
    [
        "93.184.216.34",
        "8.8.8.8",
        "1.1.1.1",
        "2606:4700:4700::1111",
        "2a00:1450:4001:80b::200e",
        "::ffff:8.8.8.8",  # mapped, but what it maps to is public
        "64:ff9b::808:808",
        "2002:808:808::1",
    ],
)
def test_public_addresses_pass(address: str) -> None:
    assert refusal_reason(address) is None
    assert is_public_address(address)


def test_text_that_is_not_an_address_is_an_error() -> None:
    with pytest.raises(ValueError):
        refusal_reason("localhost")
