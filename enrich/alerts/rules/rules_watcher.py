"""Rule changes without a restart: reload alerts.yaml when it changes, keep the old rules when
the new file is invalid.

At most one `stat` per `check_every_s`; the file is read and hashed only when its mtime or size
moved, and compiled only when the hash differs. An invalid edit is logged once (with every
problem, file:line: field) and the running rules stay — an analyst's typo must not switch
alerting off. A missing file means no rules.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from enrich.alerts import metrics
from enrich.alerts.rules.rules_config import AlertRulesFile, parse_alert_rules
from ingest.common.yaml_config import ConfigError

log = logging.getLogger(__name__)
T = TypeVar("T")


def read_rules(path: Path | None) -> tuple[AlertRulesFile, str]:
    """The validated file and the hash of its bytes; an absent file is an empty rule set."""
    if path is None or not path.exists():
        return AlertRulesFile(), ""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(path, [f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})"]) from exc
    return parse_alert_rules(text, path), hashlib.sha256(raw).hexdigest()


class RulesWatcher(Generic[T]):
    """Holds the compiled form of the current rules file (`build` turns a file into it)."""

    def __init__(
        self,
        path: Path | None,
        build: Callable[[AlertRulesFile], T],
        *,
        check_every_s: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self._build = build
        self._check_every_s = check_every_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        config, digest = read_rules(path)  # ConfigError propagates: refuse to start
        self.current: T = build(config)
        self.digest = digest
        self._stat = self._stat_now()
        self._rejected_digest: str | None = None
        self._next_check = monotonic() + check_every_s
        self.last_error: ConfigError | None = None

    def _stat_now(self) -> tuple[int, int] | None:
        if self.path is None:
            return None
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def maybe_reload(self) -> bool:
        """Cheap to call per article: looks at the file at most every `check_every_s`."""
        if self._monotonic() < self._next_check:
            return False
        return self.reload_if_changed()

    def reload_if_changed(self) -> bool:
        """Swap in the new rules if the file changed and is valid; True when swapped."""
        with self._lock:
            self._next_check = self._monotonic() + self._check_every_s
            stat = self._stat_now()
            if stat == self._stat:
                return False
            self._stat = stat
            try:
                config, digest = read_rules(self.path)
            except ConfigError as exc:
                self._reject(exc)
                return False
            except OSError as exc:  # vanished between stat and read, unreadable, …
                self._reject(ConfigError(self.path or Path("?"), [f"{self.path}: {exc}"]))
                return False
            if digest == self.digest:
                return False
            self.current = self._build(config)
            self.digest = digest
            self.last_error = None
            self._rejected_digest = None
            metrics.RULE_RELOADS.labels("ok").inc()
            log.info("alert rules reloaded",
                     extra={"file": str(self.path), "rules": len(config.rules),
                            "channels": len(config.channels)})
            return True

    def _reject(self, exc: ConfigError) -> None:
        self.last_error = exc
        metrics.RULE_RELOADS.labels("invalid").inc()
        digest = hashlib.sha256(str(exc).encode()).hexdigest()
        if digest != self._rejected_digest:
            self._rejected_digest = digest
            log.error("alert rules file invalid: keeping the rules in use",
                      extra={"file": str(self.path), "problems": exc.problems})
