from ingest.message.canonical_url import article_id, canonicalize_url, source_domain


def test_tracking_parameters_fragment_and_case_are_dropped() -> None:
    url = "HTTPS://WWW.Example.COM:443/News/Story.html?utm_source=rss&id=7&fbclid=x#comments"
    assert canonicalize_url(url) == "https://example.com/News/Story.html?id=7"


def test_same_story_through_different_links_gets_one_id() -> None:
    a = article_id("http://example.com/a?utm_medium=feed&utm_campaign=x")
    b = article_id("http://EXAMPLE.com/a#top")
    assert a == b
    assert len(a) == 32


def test_content_parameters_keep_their_order_and_distinguish_articles() -> None:
    assert canonicalize_url("http://e.com/p?b=2&a=1") == "http://e.com/p?b=2&a=1"
    assert article_id("http://e.com/p?id=1") != article_id("http://e.com/p?id=2")


def test_non_default_port_and_path_case_are_kept() -> None:
    assert canonicalize_url("http://e.com:8080/A") == "http://e.com:8080/A"
    assert article_id("http://e.com/A") != article_id("http://e.com/a")


def test_empty_path_becomes_slash_and_domain_drops_www() -> None:
    assert canonicalize_url("https://e.com") == "https://e.com/"
    assert source_domain("https://www.BBC.co.uk/news") == "bbc.co.uk"
