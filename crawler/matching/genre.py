"""Whether a page reports an event or only explains (explainers, guides, ads, polls: no topic).

A news report carries signals of a specific event (attribution such as "said" or "dijo", days
and dates, a dateline, quotations); a page that describes a policy in general carries signals
of another genre ("what is", "FAQ", "you", "call us", "free consultation", poll wording). The
pack's `[genre]` table names the term groups of each kind with a weight; a page is taken for an
explainer when its explainer score reaches `min_explainer` and exceeds its event score by
`margin`. Only pages some topic matched are looked at, so this costs nothing on the rest.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from crawler.matching.keywords import Hit
from crawler.matching.pack import GenreSpec

# "CITY (AP) —", "HOUSTON, Texas —", "MIAMI.-": an agency or station dateline opening the text.
_DATELINE = re.compile(
    r"^\s*[A-ZÁÉÍÓÚÑ][A-ZÁÉÍÓÚÑ .'’-]{2,40}(?:,\s*[A-Z][\w.]*(?:\s[A-Z][\w.]*)?)?"
    r"\s*(?:\([^)]{1,30}\)\s*)?(?:[—–]|-{1,2}|\.\s?-)\s"
)
_QUOTES = re.compile(r"[“”«»]|\"")
# live-blog entries: "8:15 p.m. — …" at the start of a paragraph
_TIMESTAMP = re.compile(r"(?m)^\s*\d{1,2}[:.]\d{2}\s*(?:[ap]\.?\s?m\.?)?\s*[—–-]")
# "Opinion: …", "Editorial | …", "Column — …": the headline says the page argues, not reports.
_OPINION_TITLE = re.compile(
    r"^\s*(?:opini[oó]n|editorial|column|columna|commentary|comentario|op-ed|my view|"
    r"mi opini[oó]n|guest column|letters?)\s*[:|—–-]",
    re.IGNORECASE,
)
# "What is a sanctuary city?", "¿Qué es el 287(g)?", "Fact check: …": a headline that asks what
# something is or how it works, or labels the page a fact check or tracker, introduces an
# explainer.
_QUESTION_TITLE = re.compile(
    r"^\s*(?:(?:explainer|explicador|fact check|tracker|faq|q&a|preguntas y respuestas)\s*[:|—–-]"
    r"|(?:¿\s*)?(?:what (?:is|are|does|do|happens)|how (?:does|do|to|can)|"
    r"qu[eé] (?:es|son|pasa|hacer|significa)|c[oó]mo (?:funciona|funcionan|saber))\b)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class GenreVerdict:
    """The page's event and explainer scores and what they came from."""

    explainer: bool
    event_score: float
    explainer_score: float
    evidence: tuple[str, ...]

    @property
    def reason(self) -> str:
        """One line for `check` and near misses."""
        return (
            f"reads as an explainer, not a report (explainer signals {self.explainer_score:g} "
            f"vs event signals {self.event_score:g}: {', '.join(self.evidence[:8])})"
        )


def judge_genre(
    spec: GenreSpec, index: dict[str, int], hits: Sequence[Hit], title: str, text: str
) -> GenreVerdict:
    """Score the page's event and explainer signals (hits are the matcher's group hits)."""
    counts = Counter(h.group for h in hits)
    titled = Counter(h.group for h in hits if h.field == "title")
    evidence: list[str] = []

    def score(weights: dict[str, float]) -> float:
        total = 0.0
        for name, weight in weights.items():
            n = min(counts.get(index[name], 0), spec.cap)
            if n:
                total += n * weight
                evidence.append(f"{name} ×{n}")
        return total

    event = score(spec.event)
    if spec.dateline_weight and _DATELINE.match(text):
        event += spec.dateline_weight
        evidence.append("dateline")
    quotes = len(_QUOTES.findall(text)) // 2
    if quotes and spec.quote_weight:
        event += min(quotes, spec.cap) * spec.quote_weight
        evidence.append(f"quotations ×{min(quotes, spec.cap)}")
    stamps = len(_TIMESTAMP.findall(text))
    if stamps and spec.timestamp_weight:
        event += min(stamps, spec.cap) * spec.timestamp_weight
        evidence.append(f"live-blog entries ×{min(stamps, spec.cap)}")
    explainer = score(spec.explainer)
    questions = text.count("?")
    if questions and spec.question_weight:
        explainer += min(questions, spec.cap) * spec.question_weight
        evidence.append(f"questions ×{min(questions, spec.cap)}")
    if spec.headline_weight and (_OPINION_TITLE.match(title) or _QUESTION_TITLE.match(title)):
        explainer += spec.headline_weight
        evidence.append("opinion or explainer headline")
    # a headline that asks "what is" or says "Opinion:" sets the genre of the whole page
    for name, weight in spec.explainer.items():
        n = titled.get(index[name], 0)
        if n and spec.title_factor > 1:
            explainer += min(n, spec.cap) * weight * (spec.title_factor - 1)
            evidence.append(f"{name} in title")
    verdict = explainer >= spec.min_explainer and explainer > event * spec.margin
    return GenreVerdict(verdict, round(event, 4), round(explainer, 4), tuple(evidence))
