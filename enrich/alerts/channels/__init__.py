"""Alert channels: one small module per kind, all behind `Channel.send(notification)`."""

from enrich.alerts.channels.base import (
    Channel,
    ChannelResources,
    DeliveryFailed,
    DeliveryRejected,
)
from enrich.alerts.channels.factory import build_channel

__all__ = ["Channel", "ChannelResources", "DeliveryFailed", "DeliveryRejected", "build_channel"]
