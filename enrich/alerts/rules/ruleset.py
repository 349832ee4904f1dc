"""One rules file compiled for use: the keyword matcher, rules by name, silence rules, and the
channel objects. Swapped as a whole on reload, so an article is never evaluated against half
an old file and half a new one."""

from __future__ import annotations

from dataclasses import dataclass

from enrich.alerts import metrics
from enrich.alerts.channels import Channel, ChannelResources, build_channel
from enrich.alerts.rules.rule_matching import RuleMatcher
from enrich.alerts.rules.rules_config import AlertRulesFile, RuleConfig


@dataclass(frozen=True)
class RuleSet:
    config: AlertRulesFile
    matcher: RuleMatcher
    rules: dict[str, RuleConfig]
    silence_rules: list[RuleConfig]
    channels: dict[str, Channel]

    @classmethod
    def compile(cls, config: AlertRulesFile, resources: ChannelResources) -> RuleSet:
        enabled = [rule for rule in config.rules if rule.enabled]
        keyword = [rule for rule in enabled if rule.type == "keyword"]
        silence = [rule for rule in enabled if rule.type == "silence"]
        metrics.RULES_LOADED.labels("keyword").set(len(keyword))
        metrics.RULES_LOADED.labels("silence").set(len(silence))
        return cls(
            config=config,
            matcher=RuleMatcher(keyword),
            rules={rule.name: rule for rule in config.rules},
            silence_rules=silence,
            channels={c.name: build_channel(c, resources) for c in config.channels},
        )
