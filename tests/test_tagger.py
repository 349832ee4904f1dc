"""Topic tagging with the shipped taxonomy: languages, look-alikes, passing mentions, evidence."""

from __future__ import annotations

from pathlib import Path

import pytest

from enrich.tagging.language import detect_language
from enrich.tagging.tagger import Tagger
from enrich.tagging.taxonomy import parse_taxonomy
from enrich.worker.enricher import load_tagger
from tests.conftest import SHARED

REPO = Path(__file__).resolve().parent.parent
SEED = SHARED / "seed" / "syria-mediation-article.txt"

FILLER = (
    "The council met on Tuesday to discuss the budget for the coming year, and members argued "
    "about road repairs, school meals and the opening hours of the public library. "
)


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return load_tagger(REPO / "config")


def topics(tagger: Tagger, title: str, text: str = "", language: str | None = None) -> list[str]:
    return tagger.tag(title, text, language).topics


def test_seed_article_is_tagged_exactly_syria_idlib_iran(tagger: Tagger) -> None:
    seed = SEED.read_text(encoding="utf-8")
    assert topics(tagger, "", seed) == ["idlib", "iran", "syria"]
    assert topics(tagger, "Moscow steps up its Syria mediation role", seed, "en") == [
        "idlib",
        "iran",
        "syria",
    ]


@pytest.mark.parametrize(
    ("title", "text", "language", "expected"),
    [
        # English
        ("Syrian troops withdraw from Aleppo as rebels advance", "", "en", ["syria"]),
        ("Air strikes hit Saraqib and Maarat al-Numan", "", "en", ["idlib", "syria"]),
        ("Khamenei warns Washington over sanctions", "", "en", ["iran"]),
        # Arabic with diacritics, tatweel and attached proclitics
        ("قصفٌ عنيفٌ على ريفِ إدْلِـــب الجنوبي", "", "ar", ["idlib", "syria"]),
        ("مقتل مدنيين بغارات على مدينة جسر الشغور", "", "ar", ["idlib", "syria"]),
        ("وزير الخارجية يزور طهران لبحث الاتفاق", "", "ar", ["iran"]),
        ("والسوريون يعودون إلى دمشق بعد العيد", "", "ar", ["syria"]),
        # Persian, with Persian and with Arabic letter forms
        ("سخنگوی دولت ایران: تحریم‌ها بی‌اثر است", "", "fa", ["iran"]),
        ("سخنگوي دولت ايران: تحريم ها بي اثر است", "", "fa", ["iran"]),
        ("ارتش سوریه کنترل شهر منبج را به دست گرفت", "", "fa", ["syria"]),
        # Turkish suffixes after an apostrophe, dotted capitals
        ("Suriye'de ateşkes ihlali", "", "tr", ["syria"]),
        ("İDLİB'DEKİ sivillere yardım ulaştı", "", "tr", ["idlib", "syria"]),
        ("İdlib'deki kamplara kış yardımı", "", "tr", ["idlib", "syria"]),
        ("Zeytin Dalı Harekâtı'nda bir asker şehit oldu", "", "tr", ["syria"]),
        ("İran’ın nükleer programı masada", "", "tr", ["iran"]),
        ("Suriyeliler Halep'e dönüyor", "", "tr", ["syria"]),
        # Russian case forms
        ("Сирия и Турция договорились о перемирии", "", "ru", ["syria"]),
        ("Ситуация в Сирии обостряется", "", "ru", ["syria"]),
        ("Россия направила гуманитарный груз в Сирию", "", "ru", ["syria"]),
        ("Авиаудары по Идлибу продолжаются", "", "ru", ["idlib", "syria"]),
        ("Выборы в Иране прошли без сюрпризов", "", "ru", ["iran"]),
        # French and German
        ("Frappes aériennes meurtrières près d'Idleb", "", "fr", ["idlib", "syria"]),
        ("Téhéran dément tout lien avec l'attaque", "", "fr", ["iran"]),
        ("Luftangriffe in Syrien: Dutzende Tote", "", "de", ["syria"]),
        ("Teheran weist Vorwürfe zurück", "", "de", ["iran"]),
    ],
)
def test_tags_in_every_language(
    tagger: Tagger, title: str, text: str, language: str, expected: list[str]
) -> None:
    assert topics(tagger, title, text, language) == expected


@pytest.mark.parametrize(
    "title",
    [
        "Exhibition of Assyrian reliefs opens at the British Museum",
        "Syriac manuscripts restored in a monastery library",
        "Syracuse University wins the regional championship",
        "Iraq's parliament postpones the budget vote",
        "The UK ambassador to the US resigns | Miranda Bryant",
        "Ветеран иракской войны получил новые руки",
        "Sanık Hançerkıran suçlamaları kabul etmedi",
        "Borçlarını yapılandıran vatandaşlara uyarı",
        "Şampiyonlar Ligi'nde çeyrek final heyecanı",
        "بالصور .. روحانية المسجد الحرام في رمضان",
        "مجلس الوزراء العراقي يقر الموازنة",
        "Syrian hamsters need larger cages, vets say",
    ],
)
def test_look_alikes_do_not_fire(tagger: Tagger, title: str) -> None:
    assert topics(tagger, title, "") == []


def test_one_passing_body_mention_in_a_long_article_does_not_tag(tagger: Tagger) -> None:
    text = FILLER * 6 + "One member recalled a trip to Syria years ago. " + FILLER * 4
    result = tagger.tag("City council approves the budget", text, "en")
    assert result.topics == []
    (syria,) = [e for e in result.evidence if e["topic"] == "syria"]
    assert syria["score"] < syria["threshold"] and syria["tagged"] is False


def test_a_title_mention_tags_even_a_long_article(tagger: Tagger) -> None:
    text = FILLER * 12
    assert topics(tagger, "Iran raises fuel prices", text, "en") == ["iran"]


def test_a_topic_that_comes_back_in_a_long_body_is_tagged(tagger: Tagger) -> None:
    text = (FILLER + "Aid convoys reached Idlib on Monday. ") * 4
    assert topics(tagger, "Winter relief", text, "en") == ["idlib", "syria"]


def test_an_iranian_born_chef_in_paris_is_not_iran(tagger: Tagger) -> None:
    text = (
        "The bakery on the Rue des Martyrs was opened by an Iranian-born chef who trained in "
        "Lyon. " + FILLER * 3
    )
    result = tagger.tag("A Paris bakery worth queuing for", text, "en")
    assert result.topics == []
    (iran,) = [e for e in result.evidence if e["topic"] == "iran"]
    assert iran["negatives"] == [{"term": "Iranian-born", "where": "body", "count": 1}]


@pytest.mark.parametrize(
    ("title", "text", "language"),
    [
        ("Fields Medal for Caucher Birkar",
         "Caucher Birkar, a Kurdish mathematician born in Iran who came to Britain as a refugee, "
         "won the Fields Medal on Wednesday at the congress in Rio de Janeiro.", "en"),
        ("Fields Madalyası Birkar'a",
         "İran doğumlu Kürt matematikçi Caucher Birkar, Rio'daki kongrede Fields Madalyası'nı "
         "aldı.", "tr"),
        ("Премия Филдса вручена Кошеру Биркару",
         "Уроженец Ирана, курдский математик Кошер Биркар, получил премию Филдса в Рио.", "ru"),
    ],
)
def test_a_person_born_in_iran_abroad_is_not_iran(
    tagger: Tagger, title: str, text: str, language: str
) -> None:
    assert topics(tagger, title, text, language) == []


def test_one_power_in_a_list_of_participants_is_a_passing_mention(tagger: Tagger) -> None:
    result = tagger.tag(
        "How are powers involved in Syria reacting to the offensive?",
        "Advances by the opposition raise questions over how Russia, Iran, Turkiye, Arab states "
        "and the US will respond.",
        "en",
    )
    assert result.topics == ["syria"]
    iran_mentions = [m for m in result.mentions if m.topic == "iran"]
    assert [m.enumerated for m in iran_mentions] == [True]


@pytest.mark.parametrize(
    ("title", "text", "language"),
    [
        ("Astana talks end", "The guarantors Russia, Turkey and Iran agreed on de-escalation "
         "zones in Syria.", "en"),
        ("انتهاء محادثات أستانا", "اتفقت الدول الضامنة روسيا وتركيا وإيران على إنشاء مناطق "
         "تخفيف التصعيد في سوريا.", "ar"),
        ("Astana görüşmeleri sona erdi", "Garantör ülkeler Rusya, Türkiye ve İran, Suriye'de "
         "çatışmasızlık bölgeleri konusunda anlaştı.", "tr"),
        ("Переговоры в Астане завершились", "Страны-гаранты Россия, Турция и Иран договорились "
         "о зонах деэскалации в Сирии.", "ru"),
        ("پایان مذاکرات آستانه", "سه کشور ضامن روسیه، ترکیه و ایران درباره مناطق کاهش تنش در "
         "سوریه توافق کردند.", "fa"),
    ],
)
def test_iran_as_one_of_the_astana_guarantors_is_listed(
    tagger: Tagger, title: str, text: str, language: str
) -> None:
    result = tagger.tag(title, text, language)
    assert [m.enumerated for m in result.mentions if m.topic == "iran"] == [True]
    assert "iran" not in result.topics


def test_arabic_lists_without_commas_need_three_countries(tagger: Tagger) -> None:
    """Arabic glues "و" to the next word; a run of three country names is a list, two are not."""
    listed = tagger.tag("", "دعم الشعوب في لبنان وسوريا والعراق", "ar")
    assert [m.enumerated for m in listed.mentions if m.topic == "syria"] == [True]
    pair = tagger.tag("", "وقال إن طهران تدعم سوريا وروسيا في الحرب", "ar")
    assert not any(m.enumerated for m in pair.mentions)


def test_a_round_up_of_the_topics_own_places_is_not_a_passing_list(tagger: Tagger) -> None:
    result = tagger.tag("Strikes hit Idlib, Hama, Aleppo", "", "en")
    assert result.topics == ["idlib", "syria"]
    assert not any(m.enumerated for m in result.mentions)
    listed = tagger.tag("Sandstorms hit Syria, Iraq, Lebanon", "", "en")
    assert listed.topics == []
    assert [m.enumerated for m in listed.mentions] == [True]


def test_iran_as_the_subject_of_a_short_lead_is_tagged(tagger: Tagger) -> None:
    text = "The US sees a window to drive a wedge between Assad and Iran, his wartime backer."
    assert topics(tagger, "US discussed lifting sanctions", text, "en") == ["iran", "syria"]


def test_a_dateline_counts_only_when_nothing_else_is_said(tagger: Tagger) -> None:
    army = "TEHRAN – The Ground Forces of the Army are recruiting engineers and pilots."
    assert topics(tagger, "Army widens recruitment", army, "en") == ["iran"]
    strikes = "TEHRAN – The Israeli regime struck targets near Damascus, Syria's capital."
    result = tagger.tag("Strikes condemned", strikes, "en")
    assert result.topics == ["syria"]
    assert [m.dateline for m in result.mentions if m.topic == "iran"] == [True]


def test_context_words_need_another_term_of_the_topic(tagger: Tagger) -> None:
    assert topics(tagger, "Harem scenes in Ottoman painting", "", "en") == []
    assert topics(tagger, "حمص بالطحينة: وصفة سهلة", "", "ar") == []
    assert topics(tagger, "Shelling of Ariha in northern Syria", "", "en") == ["idlib", "syria"]


def test_domestic_terms_count_only_in_their_own_language(tagger: Tagger) -> None:
    title = "نمایندگان مجلس طرح شفافیت آرا را تصویب کردند"
    assert topics(tagger, title, "", "fa") == ["iran"]
    assert topics(tagger, title, "", "ar") == []
    assert topics(tagger, title, "", None) == []


def test_a_domestic_term_owned_by_another_country_does_not_count(tagger: Tagger) -> None:
    result = tagger.tag("مجلس عراق قانون جدید نفت را تصویب کرد", "", "fa")
    assert result.topics == []
    (iran,) = [e for e in result.evidence if e["topic"] == "iran"]
    assert iran["negatives"] == [{"term": "مجلس عراق*", "where": "title", "count": 1}]
    assert tagger.tag("مجلس کشورمان قانون جدید نفت را تصویب کرد", "", "fa").topics == ["iran"]


def test_implied_topics_are_added_and_say_so(tagger: Tagger) -> None:
    result = tagger.tag("Saraqib shelled overnight", "", "en")
    assert result.topics == ["idlib", "syria"]
    by_topic = {e["topic"]: e for e in result.evidence}
    assert by_topic["idlib"]["tagged"] and by_topic["syria"]["tagged"]
    assert by_topic["syria"]["hits"][0]["term"] == "Saraqib"


def test_evidence_matches_and_version(tagger: Tagger) -> None:
    title = "Iran's envoy in Damascus"
    text = f"{title}\n\nTEHRAN – Iran's ambassador to Syria explained the government's collapse."
    result = tagger.tag(title, text, "en")
    assert result.taxonomy_version == f"{tagger.taxonomy.version}+{tagger.model.version}"
    assert result.topics == ["iran", "syria"]
    assert result.matches == ["Damascus", "Iran", "Syria", "Tehran"]
    by_topic = {e["topic"]: e for e in result.evidence}
    assert set(by_topic["iran"]) == {
        "topic", "score", "threshold", "tagged", "points", "features", "hits", "negatives"
    }
    hits = {(h["term"], h["where"]): h["count"] for h in by_topic["iran"]["hits"]}
    # The body's leading copy of the title is not counted a second time.
    assert hits == {("Iran", "title"): 1, ("Iran", "body"): 1, ("Tehran", "body"): 1}
    assert by_topic["iran"]["points"] == 4.0  # title 3 + body 1; the dateline yields to syria
    # The score is the model's probability, computed from the features the evidence shows.
    iran = by_topic["iran"]
    assert iran["threshold"] == tagger.model.threshold <= iran["score"] <= 1
    assert iran["score"] == round(tagger.model.probability("iran", result.features["iran"]), 3)
    assert iran["features"]["title"] == 1.0 and iran["features"]["rule"] == 1.0
    assert all(h.keys() >= {"term", "where", "count"} for h in by_topic["syria"]["hits"])


def test_a_suffix_without_apostrophe_counts_in_turkish_text_only(tagger: Tagger) -> None:
    assert topics(tagger, "Suriyeyle sınırda yeni kapı açıldı", "", "tr") == ["syria"]
    assert topics(tagger, "İranla ticaret hacmi arttı", "", "tr") == ["iran"]
    assert topics(tagger, "Halebe yardım konvoyu ulaştı", "", "tr") == ["syria"]
    # Short Turkish titles are often detected as Azerbaijani, which inflects alike.
    assert topics(tagger, "İranla ticaret", "", detect_language("İranla ticaret")) == ["iran"]
    # The same letters in an English text are another word, not Iran with a Turkish suffix.
    assert topics(tagger, "Irani Cup: Mumbai win the final", "", "en") == []


def test_gazetteer_places_are_evidence(tagger: Tagger) -> None:
    """Arabic القنيطرة is also Kenitra in Morocco: with Morocco named and nothing Syrian, it is
    a context word without an anchor and tags nothing."""
    text = "بناء مصنع للسيارات في مدينة القنيطرة شمال الرباط في المغرب."
    assert topics(tagger, "مصنع جديد للسيارات", text, "ar") == []
    assert topics(tagger, "قصف على القنيطرة في جنوب سوريا", "", "ar") == ["syria"]


def test_empty_input_tags_nothing(tagger: Tagger) -> None:
    result = tagger.tag("", "", None)
    assert (result.topics, result.matches, result.evidence) == ([], [], [])


def test_a_new_topic_is_a_yaml_edit() -> None:
    text = """\
version: "x"
scoring:
  body_thresholds: [{up_to_chars: 1000, min_score: 1}]
topics:
  lebanon:
    label: Lebanon
    names: {en: [Lebanon, Beirut], ar: [لبنان]}
    adjectives: {en: [Lebanese]}
"""
    shipped = load_tagger(REPO / "config")
    tagger = Tagger(parse_taxonomy(text, Path("topics.yaml")), shipped.model, shipped.gazetteer)
    assert tagger.tag("Beirut port reopens", "").topics == ["lebanon"]
    assert tagger.tag("ولبنان يستعد للانتخابات", "").topics == ["lebanon"]
    assert tagger.tag("Syria", "").topics == []
