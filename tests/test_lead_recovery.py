"""Lead recovery: the page's printed lead goes back in front of a text that lacks it, and
nothing else does (pure logic, no extraction)."""

from __future__ import annotations

from ingest.extract.lead_recovery import lead_probes, missing_lead, shown_in_page, with_lead

LEAD = "Rescue teams in Idlib searched for survivors after a night of shelling, officials said."
BODY = "Shelling hit Idlib overnight, residents said on Sunday.\nThe market was closed."


def page(visible: str = "", head: str = "") -> str:
    return (f'<html><head><meta name="description" content="{LEAD}">{head}</head>'
            f"<body><header>{visible}</header><article><p>{BODY}</p></article></body></html>")


def test_probes_are_plain_runs_of_the_description_start() -> None:
    assert lead_probes(LEAD) == [("Rescue", "teams", "in", "Idlib", "searched", "for",
                                  "survivors", "after")]
    # quotes and apostrophes end a run: a page may print them as entities
    assert lead_probes("He’s “back” in Idlib today, and the town is calm again tonight") == [
        ("in", "Idlib", "today,", "and", "the", "town", "is", "calm"),
    ]
    assert lead_probes("Short: «quoted» bits") == []


def test_text_in_an_attribute_a_script_a_title_or_a_comment_is_not_shown() -> None:
    words = ("Rescue", "teams", "in", "Idlib")
    assert not shown_in_page(page(), words)  # only in the meta tag
    assert not shown_in_page(page(head=f"<title>{LEAD}</title>"), words)
    assert not shown_in_page(page(head=f'<script type="application/ld+json">'
                                       f'{{"description": "{LEAD}"}}</script>'), words)
    assert not shown_in_page(page(visible=f"<!-- {LEAD} -->"), words)
    assert not shown_in_page(page(visible=f"<style>/* {LEAD} */</style>"), words)


def test_printed_text_is_shown_across_line_breaks_and_nbsp() -> None:
    words = ("Rescue", "teams", "in", "Idlib")
    assert shown_in_page(page(visible=f"<p>{LEAD}</p>"), words)
    assert shown_in_page(page(visible="<p>Rescue\n   teams&nbsp;in Idlib searched</p>"), words)
    assert not shown_in_page(page(visible="<p>Rescue crews in Idlib</p>"), words)
    assert not shown_in_page(page(visible=f"<p>{LEAD}</p>"), ())


def test_a_printed_lead_missing_from_the_text_is_put_in_front() -> None:
    html = page(visible=f'<p class="teaser">{LEAD}</p>')
    assert missing_lead(BODY, LEAD, "Night of shelling", html) == LEAD
    assert with_lead(BODY, LEAD, "Night of shelling", html) == f"{LEAD}\n{BODY}"
    # also from bytes in the page's own encoding (not UTF-8: decoded as trafilatura does)
    lead = ("Rettungskräfte in Idlib suchten nach einer Nacht mit schwerem Beschuss nach"
            " Überlebenden, sagten Behörden.")
    german = page(visible=f"<p>{lead}</p>", head='<meta charset="windows-1252">')
    assert missing_lead(BODY, lead, None, german.encode("cp1252")) == lead
    assert missing_lead(BODY, lead, None, page().encode("cp1252")) is None


def test_no_lead_when_any_check_fails() -> None:
    shown = page(visible=f"<p>{LEAD}</p>")
    assert missing_lead(BODY, None, None, shown) is None
    assert missing_lead(BODY, "Idlib: rescue teams at work.", None, shown) is None  # too short
    assert missing_lead(BODY, LEAD, LEAD.upper(), shown) is None  # the title again
    assert missing_lead(f"{LEAD}\n{BODY}", LEAD, None, shown) is None  # already there
    assert missing_lead(BODY, LEAD, None, page()) is None  # never printed on the page
    assert with_lead(BODY, LEAD, None, page()) == BODY


def test_markup_in_a_description_is_not_copied_into_the_text() -> None:
    html = page(visible=f"<p>{LEAD}</p>")
    assert missing_lead(BODY, f"<p>{LEAD}</p>", None, html) == LEAD


def test_a_page_repeating_the_phrase_endlessly_is_answered_without_scanning_it_all() -> None:
    words = ("Rescue", "teams", "in", "Idlib")
    script = "<script>" + f'"{LEAD}",' * 200_000 + "</script>"
    assert not shown_in_page(page(visible=script), words)
    # ... while the printed lead after a few copies elsewhere is still found
    assert shown_in_page(page(visible=f'<script>"{LEAD}"</script><p>{LEAD}</p>'), words)
