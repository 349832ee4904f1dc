"""Which keyword rules an article fires, in time that grows with the article, not the rules.

All terms of all rules go into one `TermMatcher` (the tagger's automaton, so normalisation and
word boundaries are the same as for topics). Its keys are the terms as written; a table maps
each term to the (rule, role) pairs that use it. One pass over the text yields the distinct
terms present; only rules reached through those terms — plus term-less rules reached through
the article's topics or source — are checked against their any/all/none/topic/language/source
conditions. A term shared by 500 rules costs one automaton hit per occurrence, then one fan-out
per article, not 500 hits per occurrence.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from enrich.alerts.rules.article_scan import (
    ArticleScan,
    Span,
    article_text,
    normalized_article_text,
)
from enrich.alerts.rules.rules_config import RuleConfig
from enrich.tagging.term_matcher import TermMatcher
from enrich.tagging.text_normalize import normalize_text

Role = Literal["any", "all", "none"]
# Occurrences kept per term for highlighting; the rest of a long article adds nothing.
_SPANS_PER_TERM = 20


def _primary_language(code: object) -> str:
    return str(code or "").lower().replace("_", "-").split("-")[0]


def _source_keys(doc: Mapping[str, Any]) -> set[str]:
    """Feed name and the domain with each parent domain: a rule naming `bbc.co.uk` reaches an
    article from `www.bbc.co.uk`."""
    keys = set()
    if doc.get("feed"):
        keys.add(str(doc["feed"]).casefold())
    domain = str(doc.get("domain") or "").casefold().strip(".")
    labels = domain.split(".") if domain else []
    for cut in range(len(labels) - 1):
        keys.add(".".join(labels[cut:]))
    return keys


@dataclass(frozen=True)
class RuleMatch:
    rule: RuleConfig
    terms: list[str]  # positive terms (any + all) found, as written in the rule
    scan: ArticleScan

    @property
    def spans(self) -> list[Span]:
        return sorted(span for term in self.terms for span in self.scan.spans.get(term, []))


@dataclass(frozen=True)
class RuleFailure:
    """A rule that raised while checked against one article (a bug, or an article shaped in a
    way nobody foresaw): the other rules still run, and the caller decides what to record."""

    rule: str  # the rule's name; "*" when the failure is not one rule's (the article scan)
    error: Exception


class RuleEvaluationError(Exception):
    """Some rules raised on an article; `matches` holds those of the rules that did not."""

    def __init__(self, failures: list[RuleFailure], matches: list[RuleMatch]) -> None:
        self.failures = failures
        self.matches = matches
        names = ", ".join(f.rule for f in failures)
        super().__init__(f"{len(failures)} alert rule(s) failed: {names}")


@dataclass
class RuleVerdict:
    """Why a rule fires or not on one article (for `newswatch alerts test`)."""

    rule: str
    fires: bool
    any_found: list[str] = field(default_factory=list)
    all_found: list[str] = field(default_factory=list)
    all_missing: list[str] = field(default_factory=list)
    none_found: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)  # unmet conditions, empty when it fires


@dataclass(frozen=True)
class _Compiled:
    config: RuleConfig
    any_terms: frozenset[str]
    all_terms: frozenset[str]
    none_terms: frozenset[str]
    topics: frozenset[str]
    languages: frozenset[str]
    sources: frozenset[str]


def _compile(rule: RuleConfig) -> _Compiled:
    return _Compiled(
        config=rule,
        any_terms=frozenset(rule.any),
        all_terms=frozenset(rule.all),
        none_terms=frozenset(rule.none),
        topics=frozenset(t.casefold() for t in rule.topics),
        languages=frozenset(_primary_language(code) for code in rule.languages),
        sources=frozenset(s.casefold().strip(".") for s in rule.sources),
    )


def _unmet(rule: _Compiled, found: set[str], doc: Mapping[str, Any],
           sources: set[str]) -> list[str]:
    """Conditions of `rule` this article does not meet (empty list = the rule fires)."""
    reasons = []
    if rule.any_terms and not (rule.any_terms & found):
        reasons.append("none of the `any` terms found")
    missing = rule.all_terms - found
    if missing:
        reasons.append(f"`all` terms missing: {', '.join(sorted(missing))}")
    excluded = rule.none_terms & found
    if excluded:
        reasons.append(f"`none` terms present: {', '.join(sorted(excluded))}")
    if rule.topics:
        topics = {str(t).casefold() for t in doc.get("topics") or []}
        if not rule.topics & topics:
            reasons.append(f"topics {sorted(topics) or '[]'} not among {sorted(rule.topics)}")
    if rule.languages and _primary_language(doc.get("language")) not in rule.languages:
        reasons.append(
            f"language {doc.get('language')!r} not among {sorted(rule.languages)}"
        )
    if rule.sources and not rule.sources & sources:
        reasons.append(f"source {doc.get('feed')!r}/{doc.get('domain')!r} not among "
                       f"{sorted(rule.sources)}")
    return reasons


def _distinct_found(rule: RuleConfig, found: set[str]) -> list[str]:
    """Positive terms found, one per normalised form ("Idlib" and "İdlib" are one hit)."""
    seen: dict[str, str] = {}
    for term in rule.any + rule.all:
        if term in found:
            seen.setdefault(_folded_term(term), term)
    return list(seen.values())


@lru_cache(maxsize=65536)
def _folded_term(term: str) -> str:
    return normalize_text(term.rstrip("*")).strip()


class RuleMatcher:
    """The enabled keyword rules of one rules file, compiled for matching."""

    def __init__(self, rules: Iterable[RuleConfig]) -> None:
        self._rules = [_compile(r) for r in rules if r.enabled and r.type == "keyword"]
        self._term_users: dict[str, list[int]] = defaultdict(list)
        # Term-less rules (topics or sources only) are reached through the article's topics
        # or source keys instead of through the automaton.
        self._by_topic: dict[str, list[int]] = defaultdict(list)
        self._by_source: dict[str, list[int]] = defaultdict(list)
        pairs: set[tuple[str, str]] = set()
        for index, rule in enumerate(self._rules):
            terms = rule.any_terms | rule.all_terms | rule.none_terms
            for term in terms:
                self._term_users[term].append(index)
                pairs.add((term, term))
            if not (rule.any_terms or rule.all_terms):
                if rule.topics:
                    for topic in rule.topics:
                        self._by_topic[topic].append(index)
                else:
                    for source in rule.sources:
                        self._by_source[source].append(index)
        self._matcher: TermMatcher[str] = TermMatcher(sorted(pairs))
        self.rule_count = len(self._rules)
        self.term_count = self._matcher.size

    def scan(self, doc: Mapping[str, Any]) -> ArticleScan:
        text = article_text(doc)
        normalized = normalized_article_text(doc)
        spans: dict[str, list[Span]] = {}
        for hit in self._matcher.find_normalized(normalized):
            found = spans.setdefault(hit.key, [])
            if len(found) < _SPANS_PER_TERM:
                found.append((hit.start, hit.end))
        return ArticleScan(text, normalized, spans)

    def candidates(self, scan: ArticleScan, doc: Mapping[str, Any]) -> set[int]:
        reached: set[int] = set()
        for term in scan.spans:
            reached.update(self._term_users.get(term, ()))
        for topic in doc.get("topics") or []:
            reached.update(self._by_topic.get(str(topic).casefold(), ()))
        if self._by_source:
            for key in _source_keys(doc):
                reached.update(self._by_source.get(key, ()))
        return reached

    def match(self, doc: Mapping[str, Any]) -> list[RuleMatch]:
        """Every enabled keyword rule the article fires, in rules-file order. A rule that
        raises does not stop the others: RuleEvaluationError names it and carries the rest."""
        scan = self.scan(doc)
        found = set(scan.spans)
        sources = _source_keys(doc)
        matches = []
        failures = []
        for index in sorted(self.candidates(scan, doc)):
            rule = self._rules[index]
            try:
                if _unmet(rule, found, doc, sources):
                    continue
                matches.append(RuleMatch(rule.config, _distinct_found(rule.config, found), scan))
            except Exception as exc:
                failures.append(RuleFailure(rule.config.name, exc))
        if failures:
            raise RuleEvaluationError(failures, matches)
        return matches


def explain_rule(rule: RuleConfig, doc: Mapping[str, Any]) -> RuleVerdict:
    """The verdict of one rule on one article, with the terms found in each role."""
    compiled = _compile(rule)
    scan = RuleMatcher([rule.model_copy(update={"enabled": True})]).scan(doc)
    found = set(scan.spans)
    reasons = _unmet(compiled, found, doc, _source_keys(doc))
    if rule.type != "keyword":
        reasons = [f"a {rule.type} rule is not evaluated on articles"]
    return RuleVerdict(
        rule=rule.name,
        fires=not reasons,
        any_found=_distinct_found(rule.model_copy(update={"all": []}), found),
        all_found=_distinct_found(rule.model_copy(update={"any": []}), found),
        all_missing=[t for t in rule.all if t not in found],
        none_found=[t for t in rule.none if t in found],
        reasons=reasons,
    )
