"""One JSON POST with the outcome classified: 2xx delivered, 408/425/429/5xx and network errors
worth retrying, any other answer a rejection."""

from __future__ import annotations

import httpx

from enrich.alerts.channels.base import DeliveryFailed, DeliveryRejected

_RETRYABLE = {408, 425, 429}


def post_json(client: httpx.Client, url: str, body: bytes, headers: dict[str, str],
              timeout_s: float) -> None:
    try:
        response = client.post(
            url, content=body, headers={"Content-Type": "application/json", **headers},
            timeout=timeout_s,
        )
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
    if response.is_success:
        return
    detail = f"HTTP {response.status_code}: {response.text[:200]}"
    if response.status_code in _RETRYABLE or response.status_code >= 500:
        raise DeliveryFailed(detail)
    raise DeliveryRejected(detail)
