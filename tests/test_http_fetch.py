"""The fetcher against a hostile server over real sockets: every misbehaviour ends in the right
FetchError kind, within the policy's bounds, and never reaches a refused address."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from ingest.common.settings import Settings
from ingest.feeds.feed_parse import parse_feed
from ingest.fetch.body_decoding import utf8_for_feedparser
from ingest.fetch.host_politeness import HostPoliteness
from ingest.fetch.http_fetch import ERROR_KINDS, Fetcher, FetchError, FetchPolicy
from tests.support.hostile_server import (
    ETAG,
    RSS_FEED,
    RUSSIAN_ITEM,
    RUSSIAN_TITLE,
    HostileServer,
)
from tests.support.tls_certs import make_tls_files

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileServer]:
    server = HostileServer(bomb_decoded_size=20 * 1024 * 1024).start()
    yield server
    server.stop()


def strict_policy(server: HostileServer, **changes: object) -> FetchPolicy:
    """Private networks refused; only the fixture server's own ip:port is let through."""
    policy = FetchPolicy(
        user_agent="newswatch-test/1.0 (+https://example.org/contact)",
        allow_private_networks=False,
        allowed_private_endpoints=frozenset({("127.0.0.1", server.port)}),
        connect_timeout_s=1.0,
        read_timeout_s=0.5,
        total_timeout_s=1.5,
        max_redirects=4,
        max_body_bytes=256 * 1024,
    )
    return replace(policy, **changes)  # type: ignore[arg-type]


@pytest.fixture
def fetcher(hostile: HostileServer) -> Iterator[Fetcher]:
    with Fetcher(strict_policy(hostile)) as f:
        yield f


def fetch_error(fetcher: Fetcher, url: str, **kwargs: object) -> FetchError:
    with pytest.raises(FetchError) as caught:
        fetcher.get(url, **kwargs)  # type: ignore[arg-type]
    assert caught.value.kind in ERROR_KINDS
    return caught.value


# --- the happy paths the hostile ones are measured against -----------------------------------


def test_plain_feed_is_fetched_with_user_agent_and_no_redirects(
    fetcher: Fetcher, hostile: HostileServer
) -> None:
    result = fetcher.get(hostile.url("/feed"), expect="feed")
    assert result.status == 200
    assert result.body == RSS_FEED
    assert result.content_type == "application/rss+xml"
    assert result.redirects == []
    assert result.permanent_redirect is None
    sent = hostile.headers_of("/feed")[-1]
    assert sent["user-agent"] == "newswatch-test/1.0 (+https://example.org/contact)"
    assert "application/rss+xml" in sent["accept"]


def test_gzip_feed_is_decoded(fetcher: Fetcher, hostile: HostileServer) -> None:
    result = fetcher.get(hostile.url("/gzip-feed"), expect="feed")
    assert result.body == RSS_FEED
    assert hostile.headers_of("/gzip-feed")[-1]["accept-encoding"] == "gzip, deflate"


def test_conditional_get_sends_validators_and_304_is_not_an_error(
    fetcher: Fetcher, hostile: HostileServer
) -> None:
    fresh = fetcher.get(hostile.url("/conditional"))
    assert fresh.status == 200
    assert fresh.headers["etag"] == ETAG
    again = fetcher.get(
        hostile.url("/conditional"), etag=ETAG, last_modified="Tue, 01 Jul 2025 10:00:00 GMT"
    )
    assert again.not_modified is True
    assert again.status == 304
    assert again.body == b""
    sent = hostile.headers_of("/conditional")[-1]
    assert sent["if-none-match"] == ETAG
    assert sent["if-modified-since"] == "Tue, 01 Jul 2025 10:00:00 GMT"


def test_leading_permanent_redirects_are_reported(fetcher: Fetcher, hostile: HostileServer) -> None:
    result = fetcher.get(hostile.url("/moved"))
    assert result.url == hostile.url("/feed")
    assert result.permanent_redirect == hostile.url("/feed")
    assert result.redirects == [hostile.url("/moved"), hostile.url("/moved-again")]


def test_a_temporary_hop_first_means_no_permanent_move(
    fetcher: Fetcher, hostile: HostileServer
) -> None:
    result = fetcher.get(hostile.url("/temporary-then-moved"))
    assert result.url == hostile.url("/feed")
    assert result.permanent_redirect is None


def test_cookie_set_on_a_redirect_is_sent_back_within_the_chain(
    fetcher: Fetcher, hostile: HostileServer
) -> None:
    for _ in range(2):  # the cookie lives only as long as one chain: each fetch starts bare
        result = fetcher.get(hostile.url("/consent"), expect="feed")
        assert result.body == RSS_FEED
        assert result.redirects == [hostile.url("/consent")]
    cookies = [h.get("cookie") for h in hostile.headers_of("/consent")[-4:]]
    assert cookies == [None, "consent=yes", None, "consent=yes"]


# --- time bounds --------------------------------------------------------------------------


def test_slow_drip_body_stops_at_the_total_timeout(
    fetcher: Fetcher, hostile: HostileServer
) -> None:
    error = fetch_error(fetcher, hostile.url("/drip-body"), expect="feed")
    assert error.kind == "timeout"
    assert "total timeout of 1.5 s" in error.message


def test_slow_drip_headers_stop_at_the_total_timeout(
    fetcher: Fetcher, hostile: HostileServer
) -> None:
    error = fetch_error(fetcher, hostile.url("/drip-headers"))
    assert error.kind == "timeout"
    assert "total timeout" in error.message


def test_silent_server_hits_the_read_timeout(fetcher: Fetcher, hostile: HostileServer) -> None:
    error = fetch_error(fetcher, hostile.url("/silent"))
    assert error.kind == "timeout"
    assert "ReadTimeout" in error.message


# --- size bounds --------------------------------------------------------------------------


def test_endless_body_is_cut_at_max_body_bytes(fetcher: Fetcher, hostile: HostileServer) -> None:
    error = fetch_error(fetcher, hostile.url("/endless"), expect="feed")
    assert error.kind == "too_large"
    assert "262144" in error.message


def test_announced_huge_body_is_refused_before_reading(
    fetcher: Fetcher, hostile: HostileServer
) -> None:
    error = fetch_error(fetcher, hostile.url("/huge-length"))
    assert error.kind == "too_large"
    assert "Content-Length 1000000000000" in error.message


def test_gzip_bomb_is_stopped_by_its_decompressed_size(
    fetcher: Fetcher, hostile: HostileServer
) -> None:
    error = fetch_error(fetcher, hostile.url("/gzip-bomb"), expect="feed")
    assert error.kind == "decompression_bomb"
    assert len(hostile.bomb) < 256 * 1024  # small on the wire: only the inflated size can tell


def test_corrupt_gzip_and_unrequested_brotli(fetcher: Fetcher, hostile: HostileServer) -> None:
    assert fetch_error(fetcher, hostile.url("/bad-gzip")).kind == "bad_content_encoding"
    assert fetch_error(fetcher, hostile.url("/brotli")).kind == "unsupported_content_encoding"


# --- redirects ----------------------------------------------------------------------------


def test_redirect_loop_is_detected_without_requesting_twice(
    fetcher: Fetcher, hostile: HostileServer
) -> None:
    before = hostile.hits("/loop-a")
    error = fetch_error(fetcher, hostile.url("/loop-a"))
    assert error.kind == "redirect_loop"
    assert hostile.hits("/loop-a") == before + 1


def test_redirect_chain_longer_than_the_policy(fetcher: Fetcher, hostile: HostileServer) -> None:
    error = fetch_error(fetcher, hostile.url("/chain-0"))
    assert error.kind == "too_many_redirects"
    assert hostile.hits("/chain-4") >= 1
    assert hostile.hits("/chain-6") == 0


def test_redirect_without_location_and_to_file_scheme(
    fetcher: Fetcher, hostile: HostileServer
) -> None:
    assert fetch_error(fetcher, hostile.url("/no-location")).kind == "bad_redirect"
    assert fetch_error(fetcher, hostile.url("/to-file")).kind == "unsupported_scheme"


# --- the network newswatch runs in is off limits -------------------------------------------


@pytest.mark.parametrize(
    "path", ["/to-loopback", "/to-localhost", "/to-mapped", "/to-decimal-ip", "/to-metadata"]
)
def test_redirects_to_internal_addresses_are_refused_before_connecting(
    fetcher: Fetcher, hostile: HostileServer, path: str
) -> None:
    error = fetch_error(fetcher, hostile.url(path))
    assert error.kind == "refused_private"
    assert hostile.canary.connections == 0


def test_metadata_refusal_names_the_reason(fetcher: Fetcher, hostile: HostileServer) -> None:
    error = fetch_error(fetcher, hostile.url("/to-metadata"))
    assert "169.254.169.254" in error.message
    assert "link-local" in error.message


def test_direct_loopback_url_is_refused_when_private_networks_are_disallowed(
    hostile: HostileServer,
) -> None:
    policy = strict_policy(hostile, allowed_private_endpoints=frozenset())
    with Fetcher(policy) as fetcher:
        error = fetch_error(fetcher, hostile.url("/feed"))
    assert error.kind == "refused_private"
    assert "loopback" in error.message
    assert "NEWSWATCH_ALLOW_PRIVATE_NETWORKS" in error.message  # how to allow it, named


def test_allow_private_networks_lets_loopback_through(hostile: HostileServer) -> None:
    policy = strict_policy(
        hostile, allowed_private_endpoints=frozenset(), allow_private_networks=True
    )
    with Fetcher(policy) as fetcher:
        assert fetcher.get(hostile.url("/feed")).body == RSS_FEED


def test_non_http_schemes_are_refused(fetcher: Fetcher) -> None:
    for url in ("file:///etc/passwd", "ftp://example.org/feed", "gopher://example.org/"):
        assert fetch_error(fetcher, url).kind == "unsupported_scheme"
    assert fetch_error(fetcher, "http://").kind == "invalid_url"


def test_name_resolved_once_and_connected_by_ip_with_host_header_kept(
    hostile: HostileServer,
) -> None:
    lookups: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        lookups.append(host)
        return {"feed.test": ["127.0.0.1"], "evil.test": ["10.1.2.3", "169.254.169.254"]}[host]

    with Fetcher(strict_policy(hostile), resolver=resolver) as fetcher:
        result = fetcher.get(f"http://feed.test:{hostile.port}/feed")
        assert result.body == RSS_FEED
        assert lookups == ["feed.test"]
        assert hostile.headers_of("/feed")[-1]["host"] == f"feed.test:{hostile.port}"
        error = fetch_error(fetcher, f"http://evil.test:{hostile.port}/feed")
    assert error.kind == "refused_private"
    assert "evil.test resolves to 10.1.2.3" in error.message


def test_only_the_checked_addresses_are_dialled(hostile: HostileServer) -> None:
    """A name with a private and an allowed address: the private one is skipped, never dialled."""

    def resolver(host: str, port: int) -> list[str]:
        return ["127.0.0.1", "169.254.169.254"] if port == hostile.canary.port else ["127.0.0.1"]

    with Fetcher(strict_policy(hostile), resolver=resolver) as fetcher:
        assert fetcher.get(f"http://mixed.test:{hostile.port}/feed").status == 200
        error = fetch_error(fetcher, f"http://mixed.test:{hostile.canary.port}/feed")
    assert error.kind == "refused_private"
    assert hostile.canary.connections == 0


def test_unresolvable_name(hostile: HostileServer) -> None:
    def resolver(host: str, port: int) -> list[str]:
        raise OSError(-2, "Name or service not known")

    with Fetcher(strict_policy(hostile), resolver=resolver) as fetcher:
        assert fetch_error(fetcher, "http://nowhere.test/feed").kind == "dns"


def test_tls_verifies_the_host_name_while_connecting_to_the_resolved_ip(tmp_path: Path) -> None:
    tls = make_tls_files(tmp_path, "feed.test")
    server = HostileServer(bomb_decoded_size=1024, tls=tls.server_context()).start()
    try:
        policy = strict_policy(server, ca_bundle=str(tls.ca_pem))
        resolver_calls: list[str] = []

        def resolver(host: str, port: int) -> list[str]:
            resolver_calls.append(host)
            return ["127.0.0.1"]

        with Fetcher(policy, resolver=resolver) as fetcher:
            result = fetcher.get(f"https://feed.test:{server.port}/feed")
            assert result.body == RSS_FEED
            assert server.headers_of("/feed")[-1]["host"] == f"feed.test:{server.port}"
            # Same server by its IP: the certificate names feed.test, so verification fails.
            error = fetch_error(fetcher, f"https://127.0.0.1:{server.port}/feed")
        assert error.kind == "tls"
        assert resolver_calls == ["feed.test"]
    finally:
        server.stop()


# --- what the server answers --------------------------------------------------------------


def test_server_errors_carry_their_status(fetcher: Fetcher, hostile: HostileServer) -> None:
    error = fetch_error(fetcher, hostile.url("/error-500"))
    assert (error.kind, error.status, error.retry_after_s) == ("http_status", 500, None)
    gone = fetch_error(fetcher, hostile.url("/gone"))
    assert (gone.kind, gone.status) == ("http_status", 410)
    missing = fetch_error(fetcher, hostile.url("/nothing-here"))
    assert missing.status == 404


def test_429_and_503_carry_retry_after(fetcher: Fetcher, hostile: HostileServer) -> None:
    throttled = fetch_error(fetcher, hostile.url("/throttled"))
    assert (throttled.kind, throttled.status, throttled.retry_after_s) == ("http_status", 429, 120)
    unavailable = fetch_error(fetcher, hostile.url("/unavailable"))
    assert unavailable.status == 503
    assert unavailable.retry_after_s is not None
    assert 3000 < unavailable.retry_after_s <= 3600  # an HTTP-date one hour ahead


def test_connection_dropped_without_response_or_mid_body(
    fetcher: Fetcher, hostile: HostileServer
) -> None:
    assert fetch_error(fetcher, hostile.url("/hang-up")).kind == "protocol"
    assert fetch_error(fetcher, hostile.url("/short-body")).kind == "protocol"


def test_connection_refused(hostile: HostileServer) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nobody listens there
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    allowed = frozenset({("127.0.0.1", closed_port)})
    with Fetcher(strict_policy(hostile, allowed_private_endpoints=allowed)) as fetcher:
        assert fetch_error(fetcher, f"http://127.0.0.1:{closed_port}/").kind == "connect"


# --- content the caller did not ask for ----------------------------------------------------


def test_pdf_where_html_was_expected(fetcher: Fetcher, hostile: HostileServer) -> None:
    declared = fetch_error(fetcher, hostile.url("/report.pdf"), expect="html")
    assert declared.kind == "unsupported_content_type"
    assert "application/pdf" in declared.message
    sniffed = fetch_error(fetcher, hostile.url("/pdf-as-html"), expect="html")
    assert sniffed.kind == "unsupported_content_type"
    assert "PDF" in sniffed.message
    # Asked for anything, the same PDF is simply returned.
    assert fetcher.get(hostile.url("/report.pdf")).body.startswith(b"%PDF-")


def test_html_page_where_a_feed_was_expected(fetcher: Fetcher, hostile: HostileServer) -> None:
    error = fetch_error(fetcher, hostile.url("/page"), expect="feed")
    assert error.kind == "not_a_feed"
    assert fetcher.get(hostile.url("/page"), expect="html").status == 200


@pytest.mark.parametrize(
    ("path", "lie"), [("/cp1251-feed", "utf-8"), ("/cp1251-as-latin1", "ISO-8859-1")]
)
def test_mislabelled_windows_1251_feed_decodes_to_the_right_text(
    fetcher: Fetcher, hostile: HostileServer, path: str, lie: str
) -> None:
    result = fetcher.get(hostile.url(path), expect="feed")
    decoded = result.decoded()
    assert decoded.encoding == "cp1251"
    assert decoded.rejected_labels[0] == lie
    assert RUSSIAN_TITLE in decoded.text
    body, headers, _ = utf8_for_feedparser(result.body, result.headers)
    parsed = parse_feed(body, url=result.url, headers=headers)
    assert parsed.title == RUSSIAN_TITLE
    assert [e.title for e in parsed.entries] == [RUSSIAN_ITEM]


# --- shared by many threads --------------------------------------------------------------


def test_concurrent_fetches_from_many_threads_each_get_their_own_outcome(
    fetcher: Fetcher, hostile: HostileServer
) -> None:
    paths = ["/feed", "/gzip-feed", "/error-500", "/to-metadata", "/conditional", "/page"] * 4
    expected = {
        "/feed": "ok",
        "/gzip-feed": "ok",
        "/conditional": "ok",
        "/error-500": "http_status",
        "/to-metadata": "refused_private",
        "/page": "not_a_feed",
    }
    outcomes: dict[int, tuple[str, str]] = {}

    def work(index: int, path: str) -> None:
        try:
            result = fetcher.get(hostile.url(path), expect="feed")
            outcomes[index] = (path, "ok" if result.body == RSS_FEED else "wrong body")
        except FetchError as exc:
            outcomes[index] = (path, exc.kind)

    threads = [threading.Thread(target=work, args=(i, p)) for i, p in enumerate(paths)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(outcomes) == len(paths)
    wrong = {i: (path, kind) for i, (path, kind) in outcomes.items() if kind != expected[path]}
    assert wrong == {}


def test_per_host_concurrency_caps_requests_in_flight(hostile: HostileServer) -> None:
    politeness = HostPoliteness(max_concurrent=1)
    with Fetcher(strict_policy(hostile), politeness=politeness) as fetcher:
        threads = [
            threading.Thread(target=fetcher.get, args=(hostile.url("/slow-ok"),)) for _ in range(6)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert hostile.hits("/slow-ok") >= 6
    assert hostile.max_in_flight["/slow-ok"] == 1


def test_policy_from_settings_carries_contact_and_limits() -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        user_agent="newswatch/0.1",
        contact_url="https://ops.example.org/newswatch",
        per_host_concurrency=3,
        max_redirects=7,
    )
    policy = FetchPolicy.from_settings(settings)
    assert policy.user_agent == "newswatch/0.1 (+https://ops.example.org/newswatch)"
    assert policy.per_host_concurrency == 3
    assert policy.max_redirects == 7
    assert policy.allow_private_networks is False


def test_failures_give_their_connections_back(hostile: HostileServer) -> None:
    """With room for two connections, a run of every failure kind must not exhaust the pool."""
    paths = ["/to-metadata", "/endless", "/gzip-bomb", "/hang-up", "/short-body", "/page"] * 3
    with Fetcher(strict_policy(hostile, max_connections=2)) as fetcher:
        kinds = set()
        for path in paths:
            kinds.add(fetch_error(fetcher, hostile.url(path), expect="feed").kind)
        assert fetcher.get(hostile.url("/feed")).body == RSS_FEED
    assert kinds == {"refused_private", "too_large", "decompression_bomb", "protocol", "not_a_feed"}
