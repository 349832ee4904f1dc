"""People and places: the gazetteers in config/, multilingual matching, the guard on ambiguous
names, the main place that becomes `geo`, and load-time errors that name file, line and field."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from enrich.entities.gazetteer import Gazetteer, load_gazetteer
from enrich.entities.gazetteer_config import Place, load_gazetteer_config
from ingest.common.yaml_config import ConfigError
from tests.conftest import CORPORA, REPO

ACTORS = REPO / "config" / "actors.yaml"
PLACES = REPO / "config" / "places.yaml"
LANGUAGES = {"en", "ar", "fa", "tr", "ru", "fr", "de"}


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return load_gazetteer(ACTORS, PLACES)


# ---------------------------------------------------------------- the shipped data


def test_shipped_gazetteers_hold_what_analysts_follow() -> None:
    config = load_gazetteer_config(ACTORS, PLACES)
    actors = {actor.id: actor for actor in config.actors.actors}
    places = {place.id: place for place in config.places.places}
    for actor_id in [
        "bashar-al-assad", "recep-tayyip-erdogan", "vladimir-putin", "sergey-lavrov",
        "benjamin-netanyahu", "ali-khamenei", "ebrahim-raisi", "masoud-pezeshkian",
        "ahmed-al-sharaa", "hts", "sdf", "ypg", "irgc", "quds-force", "hezbollah", "isis",
        "syrian-national-army", "white-helmets", "sohr", "russian-mod", "turkish-mod",
    ]:  # fmt: skip
        actor = actors[actor_id]
        assert set(actor.names) | set(actor.ambiguous_names) >= LANGUAGES, actor_id
    idlib_towns = [
        "maarat-al-numan", "saraqib", "jisr-al-shughur", "ariha", "harem", "khan-shaykhun",
        "sarmada", "kafr-nabl", "dana", "binnish",
    ]  # fmt: skip
    for place_id in ["syria", "iran", "idlib", "aleppo", "damascus", "tehran", *idlib_towns]:
        place = places[place_id]
        assert set(place.names) | set(place.ambiguous_names) >= LANGUAGES, place_id
    for place_id in idlib_towns:
        assert places[place_id].parent == "idlib"
    assert places["atarib"].parent == "aleppo"  # on the Idlib front, but in Aleppo governorate
    # Coordinates are real: every Syrian place lies inside Syria's bounding box.
    for place in places.values():
        if place.parent is not None and "syria" in _ancestors(place.id, places):
            assert 32.3 <= place.lat <= 37.4 and 35.6 <= place.lon <= 42.4, place.id
    assert (places["idlib"].lat, places["idlib"].lon) == pytest.approx((35.93, 36.63), abs=0.01)
    assert config.version.startswith("actors:") and "+places:" in config.version


def _ancestors(place_id: str, places: dict[str, Place]) -> list[str]:
    chain = []
    parent = places[place_id].parent
    while parent is not None:
        chain.append(parent)
        parent = places[parent].parent
    return chain


# ---------------------------------------------------------------- matching in every language

REPORTS = {
    "ar": (
        "قصف على إدلب",
        "قصفت قوات النظام مدينة سراقب وبلدة كفرنبل في ريف إدلب الجنوبي، وقال المرصد السوري"
        " لحقوق الإنسان إن هيئة تحرير الشام ردت.",
        ["idlib", "kafr-nabl", "saraqib", "syria"],
        ["hts", "sohr"],
    ),
    "fa": (
        "حمله به ادلب",
        "سپاه پاسداران اعلام کرد مستشاران نظامی در حلب حضور دارند. آیت‌الله خامنه‌ای در تهران گفت.",
        ["aleppo", "idlib", "iran", "syria", "tehran"],
        ["ali-khamenei", "irgc"],
    ),
    "tr": (
        "İdlib'de saldırı",
        "Suriye'nin İdlib kentinde Han Şeyhun ve Serakib'e hava saldırısı düzenlendi."
        " Erdoğan, Putin ile görüştü.",
        ["idlib", "khan-shaykhun", "saraqib", "syria"],
        ["recep-tayyip-erdogan", "vladimir-putin"],
    ),
    "ru": (
        "Удар по Идлибу",
        "Минобороны России сообщило об ударах в провинции Идлиб и у Саракиба. Лавров"
        " встретился с Эрдоганом в Анкаре.",
        ["ankara", "idlib", "saraqib", "syria", "turkey"],
        ["recep-tayyip-erdogan", "russian-mod", "sergey-lavrov"],
    ),
    "fr": (
        "Frappes à Idleb",
        "Le régime de Bachar al-Assad a bombardé Maarat al-Nouman et Jisr al-Choghour, selon"
        " l'OSDH. Les Casques blancs sont intervenus.",
        ["idlib", "jisr-al-shughur", "maarat-al-numan", "syria"],
        ["bashar-al-assad", "sohr", "white-helmets"],
    ),
    "de": (
        "Angriffe in Idlib",
        "Die syrische Armee griff Chan Schaichun und Sarakib an. Die Weißhelme berichten von"
        " Toten. Russland und die Türkei verhandeln.",
        ["idlib", "khan-shaykhun", "russia", "saraqib", "syria", "turkey"],
        ["syrian-arab-army", "white-helmets"],
    ),
    "en": (
        "Shelling in Saraqib",
        "Government forces shelled Saraqib, Ariha and Jisr al-Shughur in Idlib, the White"
        " Helmets said. HTS fighters responded near Maarrat al Numan.",
        ["ariha", "idlib", "jisr-al-shughur", "maarat-al-numan", "saraqib", "syria"],
        ["hts", "white-helmets"],
    ),
}


@pytest.mark.parametrize("language", REPORTS)
def test_people_and_places_in_each_language(gazetteer: Gazetteer, language: str) -> None:
    title, text, places, actors = REPORTS[language]
    found = gazetteer.find(title, text)
    assert found.places == places
    assert found.actors == actors
    assert found.version == gazetteer.version


def test_longest_name_wins(gazetteer: Gazetteer) -> None:
    found = gazetteer.find("", "Hafez al-Assad ruled for thirty years. فيلق القدس في دمشق")
    assert found.actors == ["hafez-al-assad", "quds-force"]  # not Bashar, not Jerusalem
    assert found.places == ["damascus", "syria"]
    found = gazetteer.find("", "Farouk al-Sharaa was vice-president under Hafez al-Assad.")
    assert "ahmed-al-sharaa" not in found.actors


def test_places_carry_their_ancestors(gazetteer: Gazetteer) -> None:
    found = gazetteer.find("", "Airstrikes hit Khan Shaykhun overnight.")
    assert found.places == ["idlib", "khan-shaykhun", "syria"]
    assert found.weights == {"khan-shaykhun": 1}


# ---------------------------------------------------------------- the guard on ambiguous names

UNRELATED = [
    ("UFC 300", "Dana White said the fighters will meet in Las Vegas. The film's harem scene drew"
     " criticism, and Ariha is the name of the restaurant."),
    ("أريحا", "قال مسؤول فلسطيني إن قوات الاحتلال اقتحمت مدينة أريحا في الضفة الغربية."),
    ("Mutfak", "Dana eti fiyatları arttı, kasaplar dana kıyma satışını durdurdu."
     " Eriha'ya gidiyoruz."),
    ("Customs", "The HTS code for steel imports changed; the SDF in Japan held drills near the IDF"
     " office of the Ile-de-France region."),
    ("حديقة", "شاهد الزوار الأسد في حديقة الحيوان، وتناولوا حمص بالطحينة، وكان المشهد جميلا."),
    ("Bar", "Jordan Peterson ordered an Arak, then a glass of Shiraz."),
    ("Дума", "Государственная Дума приняла закон; депутаты Думы голосовали единогласно."),
]  # fmt: skip


@pytest.mark.parametrize(("title", "text"), UNRELATED)
def test_ambiguous_names_need_their_context(gazetteer: Gazetteer, title: str, text: str) -> None:
    found = gazetteer.find(title, text)
    ambiguous = {"dana", "harem", "ariha", "hts", "sdf", "idf", "bashar-al-assad", "homs",
                 "jordan", "arak", "shiraz", "douma", "mashhad"}  # fmt: skip
    assert not (set(found.places) | set(found.actors)) & ambiguous, found


def test_ambiguous_names_count_beside_their_context(gazetteer: Gazetteer) -> None:
    found = gazetteer.find("Idlib", "Shelling hit Dana, Harem and Ariha near the Turkish border.")
    assert found.places == ["ariha", "dana", "harem", "idlib", "syria"]
    # A town of the province confirms too, and an actor confirms its country.
    assert "dana" in gazetteer.find("", "From Sarmada to Dana the road was cut.").places
    assert gazetteer.find("", "HTS says Assad's army shelled the town.").actors == [
        "bashar-al-assad",
        "hts",
    ]
    assert "ariha" in gazetteer.find("", "سقطت قذائف على أريحا وسراقب بريف إدلب").places


def test_two_ambiguous_names_do_not_confirm_each_other(gazetteer: Gazetteer) -> None:
    # "Ariha" needs Idlib; "Syria" alone is not enough for an Idlib town.
    assert gazetteer.find("", "Dana visited the Harem exhibition in Ariha.").places == []
    assert gazetteer.find("", "Ariha, Syria: residents fled.").places == ["syria"]


# ---------------------------------------------------------------- main place and geo


def test_main_place_is_the_most_specific_place_that_holds_the_weight(gazetteer: Gazetteer) -> None:
    # Syria in the title (3) and body (1); Idlib's subtree holds half of that weight (3 + 1):
    # the story is about Idlib, and Saraqib (1 of 4) is a passing mention.
    found = gazetteer.find("Syria talks", "Syria will talk about Idlib, Idlib, Idlib and Saraqib.")
    assert found.main_place == "idlib"
    assert found.geo == {"lat": 35.9306, "lon": 36.6339}
    # The title weighs three mentions: a title naming Saraqib goes all the way down.
    found = gazetteer.find("Shelling in Saraqib", "Syria said the shelling in Idlib went on.")
    assert found.main_place == "saraqib"
    assert found.geo == {"lat": 35.8644, "lon": 36.8006}
    # Syria named often, Saraqib once: the country.
    found = gazetteer.find("", "Syria, Syria, Syria and Syria again. Saraqib once.")
    assert found.main_place == "syria"
    # Two countries, equal weight: the one named first.
    assert gazetteer.find("", "Iran and Iraq signed a deal.").main_place == "iran"
    assert gazetteer.find("Iraq", "Iran and Iraq signed a deal.").main_place == "iraq"


def test_no_place_no_geo(gazetteer: Gazetteer) -> None:
    found = gazetteer.find("Markets", "Shares rose on Tuesday.")
    assert (found.places, found.actors, found.geo, found.main_place) == ([], [], None, None)


def test_real_idlib_items_are_placed_in_idlib(gazetteer: Gazetteer) -> None:
    """Labelled real items (tagging corpus): most items about Idlib name a place in it."""
    lines = (CORPORA / "tagging" / "items.jsonl").read_text(encoding="utf-8").splitlines()
    items = [json.loads(line) for line in lines]
    idlib_items = [item for item in items if item["labels"]["idlib"]]
    placed = [
        item
        for item in idlib_items
        if "idlib" in gazetteer.find(item["title"], item["text"]).places
    ]
    assert len(placed) >= 0.9 * len(idlib_items)
    # And items about Iran only (no Syria label) are never placed in Idlib.
    iran_only = [item for item in items if item["labels"]["iran"] and not item["labels"]["syria"]]
    assert all("idlib" not in gazetteer.find(i["title"], i["text"]).places for i in iran_only)


# ---------------------------------------------------------------- load-time errors


def write(tmp_path: Path, actors: str, places: str) -> tuple[Path, Path]:
    actors_path, places_path = tmp_path / "actors.yaml", tmp_path / "places.yaml"
    actors_path.write_text(textwrap.dedent(actors), encoding="utf-8")
    places_path.write_text(textwrap.dedent(places), encoding="utf-8")
    return actors_path, places_path


GOOD_PLACES = """\
    version: "1"
    places:
      - id: syria
        kind: country
        lat: 35.0
        lon: 38.5
        names: {en: [Syria]}
      - id: idlib
        kind: governorate
        parent: syria
        lat: 35.93
        lon: 36.63
        names: {en: [Idlib]}
"""
GOOD_ACTORS = """\
    version: "1"
    actors:
      - id: hts
        kind: armed_group
        country: syria
        names: {en: [Hayat Tahrir al-Sham]}
        ambiguous_names: {en: [HTS]}
        context: [syria]
"""


def test_small_valid_files_load(tmp_path: Path) -> None:
    gazetteer = load_gazetteer(*write(tmp_path, GOOD_ACTORS, GOOD_PLACES))
    assert gazetteer.version == "actors:1+places:1"
    assert gazetteer.find("", "HTS in Idlib").actors == ["hts"]


@pytest.mark.parametrize(
    ("actors", "places", "expected"),
    [
        (GOOD_ACTORS, GOOD_PLACES.replace("parent: syria", "parent: syra"),
         "places.yaml:8: places[1].parent: unknown place id 'syra'"),
        (GOOD_ACTORS, GOOD_PLACES.replace("id: idlib", "id: syria"),
         "places.yaml:8: places[1].id: duplicate id 'syria'"),
        (GOOD_ACTORS, GOOD_PLACES.replace("[Idlib]", "[Idlib, SYRIA]"),
         "places.yaml:8: places[1].names: 'SYRIA' is already a name of 'syria'"),
        (GOOD_ACTORS, GOOD_PLACES.replace("lat: 35.93", "lat: 135.93"),
         "places.yaml:11: places[1].lat: Input should be less than or equal to 90"),
        (GOOD_ACTORS.replace("context: [syria]", "context: [syira]"), GOOD_PLACES,
         "actors.yaml:3: actors[0].context: unknown actor or place id 'syira'"),
        (GOOD_ACTORS.replace("        context: [syria]\n", ""), GOOD_PLACES,
         "actors.yaml:3: actors[0]: Value error, ambiguous_names need a context"),
        (GOOD_ACTORS.replace("kind: armed_group", "kind: militia"), GOOD_PLACES,
         "actors.yaml:4: actors[0].kind: Input should be"),
        (GOOD_ACTORS.replace("names: {en:", "names: {english:"), GOOD_PLACES,
         "actors.yaml:6: actors[0].names.english.[key]: String should match pattern"),
    ],
)  # fmt: skip
def test_config_errors_name_file_line_and_field(
    tmp_path: Path, actors: str, places: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as error:
        load_gazetteer(*write(tmp_path, actors, places))
    assert any(expected in problem for problem in error.value.problems), error.value.problems


def test_first_mention_breaks_ties_whatever_the_name_length(gazetteer: Gazetteer) -> None:
    # Longer names are matched first internally; the tie still goes to the earliest mention.
    assert gazetteer.find("", "Syria, Iraq, Iraq, Syrian Arab Republic").main_place == "syria"
    assert gazetteer.find("", "Iraq, Syria, Syrian Arab Republic, Iraq").main_place == "iraq"


def test_document_fields(gazetteer: Gazetteer) -> None:
    assert gazetteer.find("Idlib", "").document_fields() == {
        "actors": [],
        "places": ["idlib", "syria"],
        "geo": {"lat": 35.9306, "lon": 36.6339},
    }
