"""MinHash signatures on real texts: syndicated copies with small edits stay near duplicates,
different articles do not."""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
import zlib

import pytest
import trafilatura

from enrich.dedup.near_duplicates import (
    BANDS,
    NUM_PERM,
    SHINGLE_WORDS,
    SIMILARITY_THRESHOLD,
    band_keys,
    estimated_similarity,
    is_near_duplicate,
    minhash_signature,
    permutation_parameters,
    shingles,
)
from tests.conftest import CORPORA

PAGES = CORPORA / "pages" / "trafilatura-eval"
PAGE_NAMES = [
    "abc13.com-Copperfield.html.gz",
    "abc7news.com-Napa.html.gz",
    "aclu.org-grades.html.gz",
    "amnesty.de-waffensysteme.html.gz",
]
ITEM_IDS = ["ar-snn-20150725-1299", "fa-fars-1-170", "ru-nerel-24632", "fa-fars-4-70"]


@pytest.fixture(scope="module")
def real_texts() -> dict[str, str]:
    """Extracted pages (en, de) and tagging items (ar, fa, ru), each 150+ words, 5+ paragraphs."""
    texts = {}
    for name in PAGE_NAMES:
        html = gzip.decompress((PAGES / name).read_bytes()).decode("utf-8", "replace")
        text = trafilatura.extract(html)
        assert text is not None
        texts[name] = text
    items = (CORPORA / "tagging" / "items.jsonl").read_text(encoding="utf-8").splitlines()
    for line in items:
        item = json.loads(line)
        if item["id"] in ITEM_IDS:
            texts[item["id"]] = item["text"]
    assert len(texts) == len(PAGE_NAMES) + len(ITEM_IDS)
    for text in texts.values():
        assert len(text.split()) >= 150 and len(paragraphs(text)) >= 5
    return texts


def paragraphs(text: str) -> list[str]:
    return [p for p in text.split("\n") if p.strip()]


def new_headline(text: str) -> str:
    return "Officials confirm the report in a statement on Tuesday\n" + "\n".join(
        paragraphs(text)[1:]
    )


def added_sentence(text: str) -> str:
    return text + "\nThe agency contributed to this report, which was updated on Tuesday evening."


def removed_paragraph(text: str) -> str:
    """Drop a middle paragraph of at most 15 % of the words, as an editor cutting for length."""
    parts = paragraphs(text)
    words = len(text.split())
    small = [i for i in range(1, len(parts)) if len(parts[i].split()) <= 0.15 * words]
    drop = small[len(small) // 2]
    return "\n".join(parts[:drop] + parts[drop + 1 :])


EDITS = {
    "new headline": new_headline,
    "added sentence": added_sentence,
    "removed paragraph": removed_paragraph,
    "all three": lambda text: added_sentence(removed_paragraph(new_headline(text))),
}


@pytest.mark.parametrize("edit", EDITS)
def test_edited_copies_are_near_duplicates(real_texts: dict[str, str], edit: str) -> None:
    for name, text in real_texts.items():
        original = minhash_signature(text)
        copy = minhash_signature(EDITS[edit](text))
        similarity = estimated_similarity(original, copy)
        assert similarity >= SIMILARITY_THRESHOLD, (name, edit, similarity)
        assert is_near_duplicate(original, copy)
        # LSH makes them candidates: at least one band key in common.
        assert set(band_keys(original)) & set(band_keys(copy)), (name, edit)


def test_different_articles_are_not_near_duplicates(real_texts: dict[str, str]) -> None:
    signatures = {name: minhash_signature(text) for name, text in real_texts.items()}
    for (left, a), (right, b) in itertools.combinations(signatures.items(), 2):
        similarity = estimated_similarity(a, b)
        assert similarity < 0.2, (left, right, similarity)
        assert not is_near_duplicate(a, b)


def test_signature_shape_and_band_keys(real_texts: dict[str, str]) -> None:
    signature = minhash_signature(real_texts["aclu.org-grades.html.gz"])
    assert len(signature) == NUM_PERM
    assert all(0 <= value < 2**32 for value in signature)  # fits the index's `long` field
    keys = band_keys(signature)
    assert len(keys) == BANDS == len(set(keys))
    assert keys[0].startswith("b0:") and keys[-1].startswith(f"b{BANDS - 1}:")
    assert all(len(key.split(":")[1]) == 16 for key in keys)


PINNED = ("25f068ee483e36c5", "b0:ea2b6fed4609396e")  # minhash-w5-p128-b32r4-crcfold-v2


def test_signature_is_stable_across_processes_and_versions() -> None:
    # Stored signatures and band keys are compared with ones computed by other workers and later
    # releases: this pins the scheme. Changing it needs a new SCHEME name and a reprocess.
    signature = minhash_signature("Shelling hit Saraqib and Ariha in Idlib province on Tuesday")
    digest = hashlib.sha256(repr(signature).encode()).hexdigest()
    assert (digest[:16], band_keys(signature)[0]) == PINNED


def test_normalisation_makes_case_and_diacritics_irrelevant() -> None:
    plain = "قصفت القوات مدينة ادلب صباح اليوم وقال المرصد ان القصف استمر ساعات"
    marked = "قَصَفَت القوات مدينة إدلب صباح اليوم وقال المرصد إن القصف استمر ساعات"
    assert minhash_signature(plain) == minhash_signature(marked)
    assert minhash_signature("SHELLING IN IDLIB TODAY") == minhash_signature(
        "Shelling in İdlib today"
    )


def test_short_and_empty_texts() -> None:
    assert shingles("Idlib shelled") == {"idlib shelled"}
    assert len(shingles("one two three four five six")) == 6 - SHINGLE_WORDS + 1
    assert minhash_signature("") == [] and minhash_signature(" ... ") == []
    assert band_keys([]) == []
    assert estimated_similarity([], minhash_signature("Idlib")) == 0.0
    with pytest.raises(ValueError, match="differ in length"):
        estimated_similarity([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="expected 128"):
        band_keys([1, 2, 3])


def test_long_texts_match_the_plain_definition() -> None:
    """Texts longer than one numpy chunk give the same minima as the definition computed
    slot by slot with Python integers."""
    words = [f"w{i % 997}x{i % 13}" for i in range(6000)]
    text = " ".join(words)
    signature = minhash_signature(text)
    def plain_hash(shingle: str) -> int:  # the definition, with Python integers
        h = 0
        for word in shingle.split(" "):
            h = ((h ^ zlib.crc32(word.encode())) * 0x01000193) & 0xFFFFFFFF
        return h

    hashed = [plain_hash(s) for s in shingles(text)]
    assert len(hashed) > 4096
    prime = (1 << 61) - 1
    all_a, all_b = permutation_parameters()
    for slot in (0, 1, 63, 127):
        a, b = int(all_a[slot]), int(all_b[slot])
        expected = min(((a * x + b) % prime) & 0xFFFFFFFF for x in hashed)
        assert signature[slot] == expected


def test_parts_sign_as_their_concatenation() -> None:
    title, body = "Shelling in Idlib", "Artillery hit Saraqib and Ariha on Tuesday, residents said."
    assert minhash_signature(title, body) == minhash_signature(f"{title}\n{body}")
