"""Canonical URLs and the article id derived from them.

The id is the Kafka key and the Elasticsearch `_id`: the same story reached through a feed
with `utm_*` tags, an upper-case host or a `#comments` fragment must get the same id, so a
replay or a redelivery overwrites instead of duplicating.
"""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Parameters that identify a campaign or a click, never the content.
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gclsrc", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid",
        "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id", "oly_enc_id", "rb_clickid",
        "s_cid", "vero_conv", "vero_id", "wickedid", "ref_src", "ref_url", "cmpid", "ncid",
        "ocid", "icid", "spm", "at_medium", "at_campaign", "xtor", "CMP", "rss", "feed",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "at_", "hmb_", "__twitter", "itm_")
DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_tracking(name: str) -> bool:
    lower = name.lower()
    return name in TRACKING_PARAMS or lower in TRACKING_PARAMS or lower.startswith(
        TRACKING_PREFIXES
    )


def canonicalize_url(url: str) -> str:
    """Lower-case scheme and host, drop default port, fragment and tracking parameters.

    Remaining query parameters keep their order (some sites route by it) and the path keeps
    its case (paths are case-sensitive on most servers).
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    port = parts.port
    netloc = host if port is None or DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
    if ":" in host and not host.startswith("["):
        netloc = f"[{host}]" + (f":{port}" if port and DEFAULT_PORTS.get(scheme) != port else "")
    path = parts.path or "/"
    query = urlencode(
        [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)]
    )
    return urlunsplit((scheme, netloc, path, query, ""))


def article_id(url: str) -> str:
    """Stable id of an article: sha256 of its canonical URL, 32 hex characters."""
    return hashlib.sha256(canonicalize_url(url).encode("utf-8")).hexdigest()[:32]


def source_domain(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host
