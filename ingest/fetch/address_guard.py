"""Is an IP address one newswatch may connect to on behalf of a feed it does not control?

Feeds and the pages they link to are chosen by strangers, so a fetch must never reach the network
newswatch runs in (SSRF): loopback, private ranges, link-local (cloud metadata lives at
169.254.169.254), multicast, unspecified and reserved space, nor those same addresses hidden inside
IPv6 (IPv4-mapped, NAT64, 6to4). Pure: the connecting code resolves a name once, asks here about
each address, and connects only to an address that passed (see `ingest.fetch.guarded_network`).

The checks are written out instead of trusting `ipaddress.is_global` alone because its answers
changed between Python patch releases (CVE-2024-4032); `is_global` stays as the last net.
"""

from __future__ import annotations

import ipaddress
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

IPAddress = IPv4Address | IPv6Address

_SHARED_ADDRESS_SPACE = IPv4Network("100.64.0.0/10")  # carrier-grade NAT, RFC 6598
_THIS_NETWORK = IPv4Network("0.0.0.0/8")
_NAT64_WELL_KNOWN = IPv6Network("64:ff9b::/96")  # RFC 6052: last 32 bits are IPv4
_NAT64_LOCAL_USE = IPv6Network("64:ff9b:1::/48")  # RFC 8215: operator-local translation
_TEREDO = IPv6Network("2001::/32")


def parse_ip(address: str | IPAddress) -> IPAddress:
    """An address as `ipaddress` sees it; a scope suffix (`fe80::1%eth0`) is kept."""
    if isinstance(address, IPv4Address | IPv6Address):
        return address
    return ipaddress.ip_address(address)


def _ipv4_refusal(ip: IPv4Address) -> str | None:
    if ip in _THIS_NETWORK:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip in _SHARED_ADDRESS_SPACE:
        return "shared address space"
    if ip.is_reserved or ip == IPv4Address("255.255.255.255"):
        return "reserved"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "not globally routable"
    return None


def _embedded_ipv4(ip: IPv6Address) -> tuple[str, IPv4Address] | None:
    """The IPv4 address an IPv6 form carries, which is where packets really end up."""
    if ip.ipv4_mapped is not None:
        return "IPv4-mapped", ip.ipv4_mapped
    if ip in _NAT64_WELL_KNOWN:
        return "NAT64", IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return "6to4", ip.sixtofour
    return None


def _ipv6_refusal(ip: IPv6Address) -> str | None:
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        form, ipv4 = embedded
        reason = _ipv4_refusal(ipv4)
        return f"{reason} ({form} {ipv4})" if reason else None
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_site_local:
        return "site-local"
    if ip.is_multicast:
        return "multicast"
    if ip in _NAT64_LOCAL_USE:
        return "private (local-use NAT64)"
    if ip in _TEREDO:
        # The client address inside is obfuscated and tunnels route anywhere: never needed for news.
        return "reserved (Teredo)"
    if ip.is_private:
        return "private"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:
        return "not globally routable"
    return None


def refusal_reason(address: str | IPAddress) -> str | None:
    """Why connecting to `address` is refused ("loopback", "link-local", ...), or None if public.

    Raises ValueError for text that is not an IP address.
    """
    ip = parse_ip(address)
    if isinstance(ip, IPv4Address):
        return _ipv4_refusal(ip)
    return _ipv6_refusal(ip)


def is_public_address(address: str | IPAddress) -> bool:
    return refusal_reason(address) is None
