"""`alerts.yaml`: channels and rules, the contract between analysts and the alerting step.

```yaml
channels:
  - {name: ops-webhook, type: webhook, url: https://…, secret_env: NEWSWATCH_WEBHOOK_SECRET}
rules:
  - name: idlib-ceasefire
    any: ["Idlib", "إدلب"]        # at least one of these terms
    all: ["ceasefire"]            # every one of these
    none: []                      # none of these
    topics: []                    # article carries one of these topics
    languages: []
    channels: [ops-webhook]
    realert: 30m                  # at most one alert per rule (and group key) per window
```

Optional keys: `severity`, `group_by` (realert per feed/domain/language instead of per rule),
`digest` (collect a window's alerts into one message), `sources` (feed names or domains),
`enabled`, `description`; `type: silence` rules (`feeds`/`topics` + `silent_for`) fire when
nothing new arrived for that long.

Models are flat (one channel model, one rule model, with per-type checks) rather than tagged
unions: pydantic puts the union tag into error locations, which would cost the line number in
"alerts.yaml:14: rules[2].channels: …". Cross-references (a rule naming an unknown channel, a
name used twice) are checked while the file validates, through context variables set by the
file model, so they too carry the exact field and line.
"""

from __future__ import annotations

import contextvars
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from enrich.alerts.rules.durations import parse_duration
from enrich.tagging.text_normalize import normalize_text
from ingest.common.language_codes import ISO_639_1
from ingest.common.yaml_config import load_yaml_model, parse_yaml_model


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    return parse_duration(value)


Duration = Annotated[timedelta, BeforeValidator(_duration)]
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[\w.\-]+$")]
EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]

ChannelType = Literal["webhook", "slack", "email", "kafka", "elasticsearch", "log"]
Severity = Literal["info", "low", "medium", "high", "critical"]
GroupField = Literal["feed", "domain", "language"]

# Set while an AlertRulesFile validates (see the module docstring).
_CHANNEL_NAMES: contextvars.ContextVar[set[str] | None] = contextvars.ContextVar(
    "alert_channel_names", default=None
)
_SEEN_NAMES: contextvars.ContextVar[dict[str, set[str]] | None] = contextvars.ContextVar(
    "alert_seen_names", default=None
)

_COMMON_CHANNEL_FIELDS = {"name", "type", "max_attempts", "timeout_s"}
_CHANNEL_FIELDS: dict[str, set[str]] = {
    "webhook": {"url", "url_env", "secret_env", "headers"},
    "slack": {"url", "url_env"},
    "email": {
        "host", "port", "security", "username", "password_env", "from_addr", "to",
        "subject_prefix", "ca_file", "verify_tls",
    },
    "kafka": {"topic", "bootstrap"},
    "elasticsearch": {"index", "url"},
    "log": {"level"},
}


def _check_unique(kind: str, name: str) -> None:
    seen = _SEEN_NAMES.get()
    if seen is None:
        return
    names = seen.setdefault(kind, set())
    if name in names:
        raise ValueError(f"{kind} name {name!r} is used twice")
    names.add(name)


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value


class ChannelConfig(BaseModel):
    """Where alerts go. Secrets (HMAC keys, passwords, Slack URLs) come from the environment:
    the file names the variable, so it can be committed."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: Name
    type: ChannelType
    # Tries before a delivery is reported failed; between tries the wait doubles.
    max_attempts: int = Field(default=8, ge=1, le=100)
    timeout_s: float = Field(default=10.0, gt=0, le=300)

    # webhook, slack (url or url_env); elasticsearch (url: another cluster)
    url: str | None = None
    url_env: EnvName | None = None
    # webhook
    secret_env: EnvName | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    # email
    host: str | None = None
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password_env: EnvName | None = None
    from_addr: str | None = Field(default=None, alias="from")
    to: list[str] = Field(default_factory=list)
    subject_prefix: str = "[newswatch]"
    ca_file: Path | None = None
    verify_tls: bool = True
    # kafka
    topic: str | None = None
    bootstrap: str | None = None
    # elasticsearch
    index: str | None = None
    # log
    level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("name")
    @classmethod
    def _unique_name(cls, value: str) -> str:
        _check_unique("channel", value)
        return value

    @field_validator("url")
    @classmethod
    def _url_is_http(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value)

    @field_validator("to")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if "@" not in address:
                raise ValueError(f"{address!r} is not an e-mail address")
        return value

    @model_validator(mode="after")
    def _fields_fit_type(self) -> ChannelConfig:
        allowed = _CHANNEL_FIELDS[self.type] | _COMMON_CHANNEL_FIELDS
        stray = sorted(self.model_fields_set - allowed)
        if stray:
            raise ValueError(f"{', '.join(stray)} not used by {self.type} channels")
        if self.type in ("webhook", "slack") and (self.url is None) == (self.url_env is None):
            raise ValueError(f"a {self.type} channel needs exactly one of url, url_env")
        if self.type == "email":
            if not self.host:
                raise ValueError("an email channel needs host")
            if not self.from_addr or "@" not in self.from_addr:
                raise ValueError("an email channel needs from (an address)")
            if not self.to:
                raise ValueError("an email channel needs to (one or more addresses)")
            if self.password_env and not self.username:
                raise ValueError("password_env without username")
        if self.type == "kafka" and not self.topic:
            raise ValueError("a kafka channel needs topic")
        if self.type == "elasticsearch" and not self.index:
            raise ValueError("an elasticsearch channel needs index")
        return self


def _check_term(term: str) -> str:
    term = term.strip()
    if not term:
        raise ValueError("empty term")
    if "*" in term.rstrip("*") or term.endswith("**"):
        raise ValueError(f"{term!r}: '*' is only allowed once, at the end (prefix term)")
    if len(normalize_text(term.rstrip("*")).strip()) < 2:
        raise ValueError(f"{term!r}: a term needs at least two letters")
    return term


Term = Annotated[str, BeforeValidator(lambda v: _check_term(v) if isinstance(v, str) else v)]


class RuleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    type: Literal["keyword", "silence"] = "keyword"
    description: str | None = None
    enabled: bool = True
    severity: Severity = "medium"
    channels: list[str] = Field(default_factory=list)

    # keyword rules
    any: list[Term] = Field(default_factory=list)
    all: list[Term] = Field(default_factory=list)
    none: list[Term] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    realert: Duration | None = None
    digest: Duration | None = None
    group_by: list[GroupField] = Field(default_factory=list)
    # keyword rules: the article carries one of these topics; silence rules: watched topics
    topics: list[str] = Field(default_factory=list)

    # silence rules
    feeds: list[str] = Field(default_factory=list)  # "*" = every feed that ever had an article
    silent_for: Duration | None = None

    @field_validator("name")
    @classmethod
    def _unique_name(cls, value: str) -> str:
        _check_unique("rule", value)
        return value

    @field_validator("channels")
    @classmethod
    def _known_channels(cls, value: list[str]) -> list[str]:
        known = _CHANNEL_NAMES.get()
        if known is not None:
            unknown = [name for name in value if name not in known]
            if unknown:
                defined = ", ".join(sorted(known)) or "none"
                raise ValueError(
                    f"unknown channel {', '.join(map(repr, unknown))} (defined: {defined})"
                )
        if len(set(value)) != len(value):
            raise ValueError("a channel is listed twice")
        return value

    @field_validator("languages")
    @classmethod
    def _language_codes(cls, value: list[str]) -> list[str]:
        for code in value:
            # Articles carry ISO 639-1 codes: `ara` or `xx` would never match one.
            if not re.fullmatch(r"[A-Za-z]{2}([-_][A-Za-z0-9]+)*", code) \
                    or code[:2].lower() not in ISO_639_1:
                raise ValueError(f"{code!r} is not a language code (ISO 639-1, e.g. ar, en)")
        return [code.lower() for code in value]

    @model_validator(mode="after")
    def _fields_fit_type(self) -> RuleConfig:
        given = self.model_fields_set
        if self.type == "silence":
            stray = sorted(
                given & {"any", "all", "none", "languages", "sources", "realert", "digest",
                         "group_by"}
            )
            if stray:
                raise ValueError(
                    f"{', '.join(stray)} not used by silence rules (a silence fires once, "
                    "until an article arrives again)"
                )
            if self.silent_for is None:
                raise ValueError("a silence rule needs silent_for (e.g. 6h)")
            if not (self.feeds or self.topics):
                raise ValueError("a silence rule needs feeds or topics to watch")
            return self
        stray = sorted(given & {"feeds", "silent_for"})
        if stray:
            raise ValueError(f"{', '.join(stray)} only used by silence rules (type: silence)")
        if not (self.any or self.all or self.topics or self.sources):
            raise ValueError("a rule needs any, all, topics or sources (it would match everything)")
        overlap = {normalize_text(t) for t in self.any + self.all} & {
            normalize_text(t) for t in self.none
        }
        if overlap:
            raise ValueError(f"{sorted(overlap)} both required and excluded: the rule never fires")
        return self

    @property
    def terms(self) -> list[str]:
        return [*self.any, *self.all, *self.none]


class AlertRulesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channels: list[ChannelConfig] = Field(default_factory=list)
    rules: list[RuleConfig] = Field(default_factory=list)

    @model_validator(mode="wrap")
    @classmethod
    def _cross_references(cls, data: Any, handler: Any) -> Any:
        names: set[str] = set()
        if isinstance(data, dict) and isinstance(data.get("channels"), list):
            names = {
                c["name"] for c in data["channels"]
                if isinstance(c, dict) and isinstance(c.get("name"), str)
            }
        known = _CHANNEL_NAMES.set(names)
        seen = _SEEN_NAMES.set({})
        try:
            return handler(data)
        finally:
            _CHANNEL_NAMES.reset(known)
            _SEEN_NAMES.reset(seen)

    def channel(self, name: str) -> ChannelConfig | None:
        return next((c for c in self.channels if c.name == name), None)

    def rule(self, name: str) -> RuleConfig | None:
        return next((r for r in self.rules if r.name == name), None)


def load_alert_rules(path: Path) -> AlertRulesFile:
    """Read and validate an alerts file; ConfigError (file:line: field: problem) if invalid."""
    return load_yaml_model(path, AlertRulesFile)


def parse_alert_rules(text: str, path: Path) -> AlertRulesFile:
    return parse_yaml_model(text, AlertRulesFile, path)
