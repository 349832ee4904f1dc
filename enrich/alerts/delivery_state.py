"""Per-channel delivery bookkeeping, pure: the record kept in each alert document and how one
attempt moves it on (delivered, retry later with a doubled wait, or failed and reported)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel

DeliveryStatus = Literal["pending", "retrying", "delivered", "failed"]
Outcome = Literal["delivered", "retry", "rejected"]


class ChannelDelivery(BaseModel):
    channel: str
    status: DeliveryStatus = "pending"
    attempts: int = 0
    last_error: str | None = None
    last_attempt_at: datetime | None = None
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None

    @property
    def open(self) -> bool:
        return self.status in ("pending", "retrying")


@dataclass(frozen=True)
class RetryPolicy:
    """Waits double from `base_s` up to `cap_s`; a channel's `max_attempts` bounds the tries."""

    base_s: float = 2.0
    cap_s: float = 300.0

    def delay(self, attempts: int) -> float:
        return min(self.cap_s, self.base_s * 2 ** max(0, attempts - 1))


def initial_deliveries(channels: list[str]) -> list[ChannelDelivery]:
    return [ChannelDelivery(channel=name) for name in channels]


def after_attempt(
    delivery: ChannelDelivery,
    outcome: Outcome,
    *,
    now: datetime,
    error: str | None,
    max_attempts: int,
    policy: RetryPolicy,
) -> ChannelDelivery:
    attempts = delivery.attempts + 1
    if outcome == "delivered":
        return delivery.model_copy(update={
            "status": "delivered", "attempts": attempts, "last_attempt_at": now,
            "next_attempt_at": None, "delivered_at": now,
        })
    if outcome == "rejected" or attempts >= max_attempts:
        return delivery.model_copy(update={
            "status": "failed", "attempts": attempts, "last_attempt_at": now,
            "next_attempt_at": None, "last_error": error,
        })
    return delivery.model_copy(update={
        "status": "retrying", "attempts": attempts, "last_attempt_at": now,
        "next_attempt_at": now + timedelta(seconds=policy.delay(attempts)), "last_error": error,
    })
