"""Story clustering (pure): is this article another copy or rewrite of a story already seen?

Method. Each article gets a fingerprint: a normalised *title key* and a MinHash (128
permutations, fixed seed; datasketch's default scheme computed here in numpy, without its import
of scipy) of the set of 4-word shingles of its body text. Two articles tell
the same story when the estimated Jaccard similarity of their bodies is at least
`BODY_THRESHOLD` (0.5), or at least `TITLE_BODY_THRESHOLD` (0.2) when their titles also agree
(same title key, or title-word overlap of `TITLE_THRESHOLD` = 0.6 or more). Bodies too short to
shingle reliably (under `MIN_TOKENS` words) cluster only on an identical, specific title key.

Why MinHash over SimHash: MinHash estimates the Jaccard similarity itself, so the thresholds
read as "half the phrasing is shared", and a wire copy with a rewritten lede and ending (the
common case: ~0.6–0.75 on the sample pair, against < 0.05 between different stories on the
same topic) scores in the middle of the scale, not a few bits away from noise. SimHash is good
at "almost identical" and poor at "substantially shared". A 64-bit SimHash is still computed
and stored on each article as a compact fingerprint for inspection and exact-copy queries.

Why a bounded scan, not LSH: only articles that match a topic are clustered (they are the
ones that alert), so the candidates are the clusters touched in the last `WINDOW_DAYS` (14)
days, at most `MAX_CANDIDATES`. Comparing against all of them is one vectorised equality test
over an (N × 128) array — well under a millisecond for thousands — with no banding false
negatives and no index to keep in sync between crawl processes.

The same story in another language does not cluster (its words differ); that is deliberate.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

NUM_PERM = 128
SEED = 20_240_501  # fixed: stored signatures must stay comparable across runs and versions
SHINGLE = 4
MIN_TOKENS = 40
BODY_THRESHOLD = 0.5
TITLE_BODY_THRESHOLD = 0.2
TITLE_THRESHOLD = 0.6
MIN_TITLE_WORDS = 4
WINDOW_DAYS = 14
MAX_CANDIDATES = 5000
TITLE_KEY_WORDS = 16
MAX_TITLE_KEY = 300

_WORD = re.compile(r"\w+", re.UNICODE)
_STOPWORD_TEXT = (
    "a an and are as at be by for from has have in is it its of on or over says said than "
    "that the their this to was were will with after amid into new news update updated live "
    "el la los las un una y o de del en por para con que se su al es lo como más sobre tras"
)
_SEPARATORS = (" - ", " | ", " – ", " — ", " · ", " • ")


_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def _fold(text: str) -> str:
    """Case-fold and strip accents, so 'Corte' and 'corté' compare equal."""
    folded = text.casefold()
    if folded.isascii():
        return folded
    return _COMBINING.sub("", unicodedata.normalize("NFKD", folded))


STOPWORDS = frozenset(_fold(w) for w in _STOPWORD_TEXT.split())


def words(text: str) -> list[str]:
    """Folded word tokens of a text."""
    return _WORD.findall(_fold(text))


def strip_outlet_suffix(title: str) -> str:
    """Drop a trailing ' - Outlet' / ' | Outlet' (aggregator and CMS title suffixes)."""
    title = title.strip()
    cut = max(title.rfind(sep) for sep in _SEPARATORS)
    if cut > 20 and len(title[cut + 3 :].split()) <= 5:
        return title[:cut]
    return title


def title_words(title: str | None) -> list[str]:
    """The significant words of a title (suffix, stopwords and digits-only words removed)."""
    if not title:
        return []
    return [w for w in words(strip_outlet_suffix(title)) if w not in STOPWORDS and not w.isdigit()]


def title_key(title: str | None) -> str:
    """A normalised key of a title: its first significant words, folded, space-joined."""
    return " ".join(title_words(title)[:TITLE_KEY_WORDS])[:MAX_TITLE_KEY]


def shingles(text: str, size: int = SHINGLE) -> set[str]:
    """The set of `size`-word shingles of a text (the whole text when it is shorter)."""
    tokens = words(text)
    if len(tokens) <= size:
        return {" ".join(tokens)} if tokens else set()
    return {" ".join(tokens[i : i + size]) for i in range(len(tokens) - size + 1)}


_FMIX32 = (16, 0x85EBCA6B, 13, 0xC2B2AE35, 16)  # MurmurHash3's 32-bit finalizer
_U32 = np.uint32


@lru_cache(maxsize=1)
def _permutations() -> tuple[np.ndarray, np.ndarray]:
    """The affine permutations (a odd) of datasketch's default 'affine32' MinHash scheme."""
    gen = np.random.RandomState(SEED)
    a = gen.randint(0, 1 << 31, NUM_PERM, dtype=_U32) * _U32(2) + _U32(1)
    b = gen.randint(0, 1 << 32, NUM_PERM, dtype=_U32)
    return a, b


def _digests(items: Iterable[str]) -> np.ndarray:
    """SHA-1 of each item (rows of 20 bytes): one hash serves both MinHash and SimHash."""
    sha1 = hashlib.sha1
    joined = b"".join([sha1(s.encode("utf-8"), usedforsecurity=False).digest() for s in items])
    return np.frombuffer(joined, dtype=np.uint8).reshape(-1, 20)


def _minhash(digests: np.ndarray) -> np.ndarray:
    """The MinHash signature from item digests: the same values as datasketch's
    `MinHash(num_perm=128, seed=SEED)` fed the same items (its default scheme: first 4 bytes of
    SHA-1 little-endian, MurmurHash3 finalizer, h·a + b mod 2^32, minimum per permutation), so
    signatures stored before datasketch was dropped compare with new ones."""
    if not len(digests):
        return np.full(NUM_PERM, 0xFFFFFFFF, dtype=np.uint64)
    hv = np.ascontiguousarray(digests[:, :4]).view("<u4").reshape(-1, 1).astype(_U32)
    s1, m1, s2, m2, s3 = _FMIX32
    hv = hv ^ (hv >> _U32(s1))
    hv = hv * _U32(m1)
    hv = hv ^ (hv >> _U32(s2))
    hv = hv * _U32(m2)
    hv = hv ^ (hv >> _U32(s3))
    a, b = _permutations()
    signature: np.ndarray = (hv * a + b).min(axis=0).astype(np.uint64)
    return signature


def _simhash(digests: np.ndarray) -> int | None:
    """A 64-bit SimHash (bytes 4–12 of each digest), as a signed int for a BIGINT column."""
    if not len(digests):
        return None
    hashes = np.ascontiguousarray(digests[:, 4:12]).view("<u8").reshape(-1)
    bits = (hashes[:, None] >> np.arange(64, dtype=np.uint64)) & np.uint64(1)
    votes = bits.sum(axis=0, dtype=np.int64) * 2 - len(hashes)
    value = int((np.uint64(1) << np.arange(64, dtype=np.uint64))[votes > 0].sum(dtype=np.uint64))
    return value - (1 << 64) if value >= 1 << 63 else value


def minhash_of(items: Iterable[str]) -> np.ndarray:
    """The MinHash signature (uint64[NUM_PERM]) of a set of strings."""
    return _minhash(_digests(items))


def simhash_of(items: Iterable[str]) -> int | None:
    """A 64-bit SimHash of a set of strings, as a signed int (fits a BIGINT column)."""
    return _simhash(_digests(items))


def signature_to_bytes(signature: np.ndarray) -> bytes:
    """Stored form of a MinHash signature (little-endian uint64s)."""
    return np.asarray(signature, dtype="<u8").tobytes()


def signature_from_bytes(data: bytes | None) -> np.ndarray | None:
    """Inverse of `signature_to_bytes`; None for missing or foreign-sized data."""
    if not data or len(data) != NUM_PERM * 8:
        return None
    return np.frombuffer(data, dtype="<u8").astype(np.uint64)


@dataclass(frozen=True)
class Fingerprint:
    """What clustering compares: title key, body MinHash (None when too short) and SimHash."""

    title_key: str
    minhash: np.ndarray | None
    simhash: int | None
    tokens: int


def fingerprint(title: str | None, text: str | None) -> Fingerprint:
    """Fingerprint an article from its title and extracted body text."""
    body = text or ""
    token_count = len(words(body))
    digests = _digests(shingles(body))
    signature = _minhash(digests) if token_count >= MIN_TOKENS else None
    return Fingerprint(title_key(title), signature, _simhash(digests), token_count)


@dataclass(frozen=True)
class Candidate:
    """A recent story cluster, as stored: id, title key and representative MinHash."""

    cluster_id: int
    title_key: str
    minhash: np.ndarray | None


def title_similarity(a: str, b: str) -> float:
    """Jaccard overlap of the words of two title keys."""
    wa, wb = set(a.split()), set(b.split())
    if not wa or not wb:
        return 0.0
    return len(wa & wb) / len(wa | wb)


def titles_agree(a: str, b: str) -> bool:
    """Same specific title key, or strongly overlapping title words."""
    if len(a.split()) < MIN_TITLE_WORDS or len(b.split()) < MIN_TITLE_WORDS:
        return False
    return a == b or title_similarity(a, b) >= TITLE_THRESHOLD


def body_similarities(signature: np.ndarray, others: Sequence[np.ndarray | None]) -> np.ndarray:
    """Estimated Jaccard similarity of one signature to each of `others` (0 where missing)."""
    out = np.zeros(len(others), dtype=np.float64)
    present = [i for i, other in enumerate(others) if other is not None]
    if present:
        matrix = np.stack([others[i] for i in present])  # type: ignore[misc]
        out[present] = (matrix == signature[None, :]).mean(axis=1)
    return out


def best_cluster(fp: Fingerprint, candidates: Sequence[Candidate]) -> tuple[int, float] | None:
    """The candidate cluster telling the same story, with its body similarity; None if new."""
    if not candidates:
        return None
    if fp.minhash is not None:
        sims = body_similarities(fp.minhash, [c.minhash for c in candidates])
    else:
        sims = np.zeros(len(candidates), dtype=np.float64)
    best: tuple[float, int] | None = None
    # Only candidates that can qualify are looked at one by one: a body similarity of
    # TITLE_BODY_THRESHOLD or more, or (without a body signature on either side) the same title.
    if fp.minhash is not None:
        worth = np.flatnonzero(sims >= TITLE_BODY_THRESHOLD).tolist()
        worth += [i for i, c in enumerate(candidates) if c.minhash is None]
    else:
        worth = [i for i, c in enumerate(candidates) if c.title_key == fp.title_key]
    for index in sorted(set(worth)):
        candidate = candidates[index]
        sim = float(sims[index])
        agree = titles_agree(fp.title_key, candidate.title_key)
        if fp.minhash is None or candidate.minhash is None:
            ok = agree and fp.title_key == candidate.title_key
        else:
            ok = sim >= BODY_THRESHOLD or (agree and sim >= TITLE_BODY_THRESHOLD)
        score = sim + (1.0 if agree else 0.0)
        if ok and (best is None or score > best[0]):
            best = (score, index)
    if best is None:
        return None
    chosen = candidates[best[1]]
    return chosen.cluster_id, float(sims[best[1]])


def text_similarity(a: str | None, b: str | None) -> float:
    """Exact Jaccard similarity of two texts' shingle sets (1.0 for two empty texts)."""
    sa, sb = shingles(a or ""), shingles(b or "")
    if not sa and not sb:
        return 1.0
    return len(sa & sb) / len(sa | sb)
