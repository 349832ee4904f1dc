"""MinHash signatures and LSH band keys, so syndicated copies of one story share a cluster.

Why MinHash over word shingles: a wire story re-published with a new headline, an added
sentence or a dropped paragraph keeps most of its 5-word sequences, while two different
articles about the same event share almost none. The fraction of equal MinHash slots estimates
the Jaccard similarity of the two shingle sets.

Why this small numpy implementation instead of `datasketch`: datasketch imports scipy, which
costs about 70 MB of resident memory on import (measured: 30 MB → 100 MB), a quarter of the
worker's 250 MB budget, for two lines of arithmetic. numpy is already loaded by the language
identifier, so here the signature costs nothing extra.

The scheme (shingle size, permutations, bands) is fixed by SCHEME: every worker, every run and
every stored document must use the same one, so the permutation parameters come from SHA-256
of fixed labels rather than a random generator whose stream could change between numpy
versions. Changing any parameter means a new SCHEME name and a `newswatch reprocess`.

LSH: 128 slots in 32 bands of 4 rows. Two documents become candidates when any band is equal;
the chance is 1 - (1 - J⁴)³² — 0.87 at J = 0.5, 0.988 at J = 0.6, 0.9998 at J = 0.7, 0.05 at
J = 0.2 — so pairs above the similarity threshold are found, and the extra candidates are
discarded by comparing whole signatures (`estimated_similarity`).
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Sequence

import numpy as np

from enrich.tagging.text_normalize import normalize_text

SCHEME = "minhash-w5-p128-b32r4-crcfold-v2"
SHINGLE_WORDS = 5
NUM_PERM = 128
BANDS = 32
ROWS = NUM_PERM // BANDS

# Estimated Jaccard similarity at or above which two texts are one story. Measured on 93 real
# texts of 150+ words and 5+ paragraphs (tagging items in ar/fa/ru, extracted pages in en/de/pl):
# a new headline kept 0.86–1.0, an added sentence 0.89–1.0, one paragraph of ≤15 % removed
# 0.79–1.0, all three edits at once 0.65–1.0; across 7,000+ pairs of different texts the highest
# was 0.05. 0.8 would split copies that lost a paragraph; 0.6 keeps a wide margin both ways.
SIMILARITY_THRESHOLD = 0.6

_MERSENNE_61 = np.uint64((1 << 61) - 1)
_SHIFT_61 = np.uint64(61)
_PERSON = SCHEME[:16].encode()
_MASK_32 = np.uint64(0xFFFFFFFF)
_CHUNK = 4096  # shingles hashed per numpy step: bounds the temporary matrix to 4 MB
_WORD = re.compile(r"\w+")


def permutation_parameters() -> tuple[np.ndarray, np.ndarray]:
    """(a, b) of the NUM_PERM hash functions (a·x + b) mod (2⁶¹ − 1), low 32 bits kept."""
    a = []
    b = []
    for index in range(NUM_PERM):
        digest = hashlib.sha256(f"{SCHEME}:{index}".encode()).digest()
        # a and b below 2**32 keep a*x + b below 2**64 for 32-bit x: no silent overflow.
        a.append(int.from_bytes(digest[:4], "big") | 1)
        b.append(int.from_bytes(digest[4:8], "big"))
    return np.array(a, dtype=np.uint64), np.array(b, dtype=np.uint64)


_A, _B = permutation_parameters()


def shingles(text: str) -> set[str]:
    """Overlapping 5-word sequences of the normalised text; a shorter text is one shingle."""
    words = _WORD.findall(normalize_text(text))
    if len(words) <= SHINGLE_WORDS:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)}


_FOLD_PRIME = np.uint64(0x01000193)  # FNV-1a's 32-bit prime


def shingle_hashes(words: Sequence[str]) -> np.ndarray:
    """One 32-bit hash per shingle (the distinct ones), computed for all shingles at once.

    A word hashes to its CRC-32 (stable across processes, unlike hash()); a shingle folds
    its words' hashes FNV-1a style: h = ((h ^ w) * 0x01000193) mod 2**32 from h = 0. Only a
    base hash: the permutations above make the family universal. Vectorised, because building
    and hashing every 5-word string was most of the worker's time per article.
    """
    if not words:
        return np.empty(0, dtype=np.uint64)
    word_hashes = np.fromiter(map(zlib.crc32, map(str.encode, words)), dtype=np.uint64,
                              count=len(words))
    width = min(SHINGLE_WORDS, len(words))
    count = len(words) - width + 1
    folded = np.zeros(count, dtype=np.uint64)
    for k in range(width):
        folded = ((folded ^ word_hashes[k : k + count]) * _FOLD_PRIME) & _MASK_32
    return np.unique(folded)


def _permuted(hashed: np.ndarray) -> np.ndarray:
    """(a·x + b) mod (2⁶¹ − 1), low 32 bits, for every shingle (rows) and permutation (columns).

    The modulo without a division: 2⁶¹ ≡ 1, so the bits above 61 fold onto the low ones and
    one conditional subtraction finishes (a·x + b < 2⁶⁴). In place, to keep temporaries few.
    """
    values = hashed[:, None] * _A
    values += _B
    folded = values & _MERSENNE_61
    values >>= _SHIFT_61
    folded += values
    np.subtract(folded, _MERSENNE_61, out=folded, where=folded >= _MERSENNE_61)
    folded &= _MASK_32
    return folded


def minhash_signature(*parts: str) -> list[int]:
    """NUM_PERM unsigned 32-bit minima (they fit the index's `long` field); [] for no words.

    Several parts sign as their concatenation with line breaks ("title", "body" is
    "title\nbody"), each folded on its own so the tagger's cached folding is reused.
    """
    words = [word for part in parts for word in _WORD.findall(normalize_text(part))]
    hashed = shingle_hashes(words)
    if hashed.size == 0:
        return []
    minima = np.full(NUM_PERM, np.iinfo(np.uint64).max, dtype=np.uint64)
    for begin in range(0, hashed.size, _CHUNK):
        permuted = _permuted(hashed[begin : begin + _CHUNK])
        np.minimum(minima, permuted.min(axis=0), out=minima)
    return [int(value) for value in minima.tolist()]


def band_keys(signature: Sequence[int]) -> list[str]:
    """One keyword per LSH band, "b{band}:{hash}"; equal keys make two documents candidates."""
    if not signature:
        return []
    if len(signature) != NUM_PERM:
        raise ValueError(f"signature has {len(signature)} values, expected {NUM_PERM}")
    rows = np.asarray(signature, dtype=">u4").reshape(BANDS, ROWS)  # 4 big-endian bytes each
    digests = (
        hashlib.blake2b(row.tobytes(), digest_size=8, person=_PERSON).hexdigest() for row in rows
    )
    return [f"b{band}:{digest}" for band, digest in enumerate(digests)]


def estimated_similarity(left: Sequence[int], right: Sequence[int]) -> float:
    """Fraction of equal slots ≈ Jaccard similarity of the shingle sets; 0.0 if either is empty."""
    if not left or not right:
        return 0.0
    if len(left) != len(right):
        raise ValueError(f"signatures differ in length: {len(left)} and {len(right)}")
    return float(np.mean(np.asarray(left, dtype=np.uint64) == np.asarray(right, dtype=np.uint64)))


def is_near_duplicate(left: Sequence[int], right: Sequence[int]) -> bool:
    return estimated_similarity(left, right) >= SIMILARITY_THRESHOLD
