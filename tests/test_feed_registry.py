from ingest.feeds.feed_registry import merge, problems, same_feed_url, status_counts
from ingest.feeds.feed_state import FeedState
from ingest.feeds.feeds_config import FeedConfig


def config(name: str, enabled: bool = True) -> FeedConfig:
    return FeedConfig.model_validate(
        {"name": name, "url": f"https://{name}.example/rss", "enabled": enabled})


def state(name: str, **update: object) -> FeedState:
    return FeedState.new(name, f"https://{name}.example/rss").model_copy(update=update)


def test_merge_keeps_config_order_and_names_what_is_missing_on_either_side() -> None:
    entries = merge(
        [config("b"), config("a"), config("off", enabled=False)],
        [state("a", status="backoff"), state("zombie"), state("off")],
    )
    assert [(e.name, e.status) for e in entries] == [
        ("b", "new"), ("a", "backoff"), ("off", "disabled"), ("zombie", "orphaned")]
    assert status_counts(entries) == {"active": 0, "backoff": 1, "blocked": 0, "disabled": 1,
                                      "new": 1, "orphaned": 1}


def test_problems_worst_first() -> None:
    entries = merge(
        [config(n) for n in ("fine", "flaky", "slow", "dead", "deader")],
        [state("fine"),
         state("flaky", consecutive_failures=1),  # active, but its last poll failed
         state("slow", status="backoff", consecutive_failures=2),
         state("dead", status="blocked", consecutive_failures=5),
         state("deader", status="blocked", consecutive_failures=9),
         state("gone")],
    )
    assert [e.name for e in problems(entries)] == ["deader", "dead", "slow", "flaky", "gone"]


def test_same_feed_url_ignores_scheme_case_and_default_port_but_not_the_query() -> None:
    assert same_feed_url("http://Sana.SY/en/?feed=rss2", "https://sana.sy:443/en/?feed=rss2")
    assert not same_feed_url("https://sana.sy/en/?feed=rss2", "https://sana.sy/en/")
    assert not same_feed_url("https://sana.sy/en/", "https://sana.sy/ar/")
    assert not same_feed_url("https://a.example:8443/rss", "https://a.example/rss")


def test_after_a_url_edit_the_entry_shows_the_configured_url_not_the_old_state() -> None:
    old = state("a", status="backoff", consecutive_failures=3, articles_produced=7)
    edited = FeedConfig.model_validate({"name": "a", "url": "https://new.example/feed"})
    [entry] = merge([edited], [old])
    assert entry.url == "https://new.example/feed"
    assert entry.state is not None and entry.state.configured_url == entry.url
    # What the old URL taught (failures, backoff) no longer applies; counters stay.
    assert entry.status == "active" and entry.state.consecutive_failures == 0
    assert entry.state.articles_produced == 7
