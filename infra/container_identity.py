"""A stable consumer-group instance id for a worker replica in docker compose.

Workers use static membership (STACK-NOTES): a restarted worker must come back under the same
`group_instance_id` to take its partitions back at once. Compose replicas all share one
environment, and their host name is the container id, which changes whenever the container is
recreated. What stays is the compose container name (`newswatch-worker-3`: project, service,
replica number). Docker's embedded DNS answers a reverse lookup of the container's own
address with that name (`newswatch-worker-3.newswatch_default`), so the worker's entrypoint runs
`python -m infra.container_identity` and exports what it prints as NEWSWATCH_WORKER_INSTANCE.

An id set explicitly in NEWSWATCH_WORKER_INSTANCE wins; with no compose DNS (plain `docker
run`, or a host) the host name is used, as `newswatch worker` would do itself.
"""

from __future__ import annotations

import os
import re
import socket

_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def replica_name(ptr_name: str) -> str | None:
    """`newswatch-worker-3.newswatch_default` -> `newswatch-worker-3`; None if not a name."""
    label = ptr_name.strip().rstrip(".").split(".", 1)[0]
    return label if label and _LABEL.match(label) else None


def _own_container_name() -> str | None:
    try:
        address = socket.gethostbyname(socket.gethostname())
        ptr_name, _, _ = socket.gethostbyaddr(address)
    except OSError:
        return None
    name = replica_name(ptr_name)
    # Without compose DNS the reverse lookup returns the host name or the bare address.
    if name is None or name == socket.gethostname() or name == address.split(".", 1)[0]:
        return None
    return name


def worker_instance_id() -> str:
    explicit = os.environ.get("NEWSWATCH_WORKER_INSTANCE", "").strip()
    return explicit or _own_container_name() or socket.gethostname()


if __name__ == "__main__":
    print(worker_instance_id())
