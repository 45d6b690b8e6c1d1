"""Evaluation on labelled JSON Lines: precision, recall and F1 per topic, with the errors listed.

Each line is `{"id" or "url", "text" or "html" or "path", "labels": [...]}` with an optional
"title" and "lang". An optional "reviewed_topics" list (as `newswatch matches export
--labelled` writes) limits scoring to those topics: a topic nobody reviewed is neither a
positive nor a negative, so the item counts for no other topic. A `path` is read relative to
the labelled file (HTML, `.gz` HTML or plain text); HTML goes through `crawler.extract` first.
Other string fields ("kind", "form", "class", ...) are kept as attributes, so scores can be
broken down by them (`breakdown`).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from crawler.errors import ConfigError
from crawler.matching.matcher import Matcher
from crawler.matching.model import Document


@dataclass(frozen=True)
class LabelledItem:
    """One labelled example."""

    id: str
    labels: tuple[str, ...]
    title: str = ""
    text: str | None = None
    html: str | None = None
    path: Path | None = None
    url: str | None = None
    lang: str | None = None
    reviewed_topics: tuple[str, ...] | None = None  # None: every topic is judged
    attrs: dict[str, str] = field(default_factory=dict, compare=False)

    def judged(self, topic: str) -> bool:
        """Whether this item says anything about `topic`."""
        return (
            self.reviewed_topics is None or topic in self.reviewed_topics or (topic in self.labels)
        )

    def attr(self, name: str) -> str | None:
        """A string field of the item ("lang", "kind", "form", ...), None when absent."""
        if name == "lang":
            return self.lang
        return self.attrs.get(name)


_SOURCE_KEYS = frozenset(
    {"id", "url", "title", "text", "html", "path", "labels", "lang", "reviewed_topics"}
)


@dataclass
class TopicScore:
    """Counts and rates for one topic."""

    topic: str
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    false_positives: list[str] = field(default_factory=list)
    false_negatives: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        """tp / (tp + fp); 1.0 when nothing was predicted and nothing was missed."""
        if self.tp + self.fp:
            return self.tp / (self.tp + self.fp)
        return 1.0 if not self.fn else 0.0

    @property
    def recall(self) -> float:
        """tp / (tp + fn); 1.0 when there is nothing to find."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe, rates included."""
        data = asdict(self)
        data.update(precision=self.precision, recall=self.recall, f1=self.f1)
        return data


@dataclass
class EvalReport:
    """Scores per topic, predictions per item, and items that could not be read."""

    topics: dict[str, TopicScore]
    predictions: dict[str, list[str]]
    errors: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe."""
        return {
            "items": len(self.predictions),
            "topics": {name: score.to_dict() for name, score in self.topics.items()},
            "errors": self.errors,
        }


def _item(data: Any, base: Path, where: str, path: Path) -> LabelledItem:
    def fail(message: str, key: str = "") -> ConfigError:
        return ConfigError(message, path=str(path), field=f"{where}{'.' + key if key else ''}")

    if not isinstance(data, dict):
        raise fail("expected a JSON object")
    ident = data.get("id") or data.get("url")
    if not isinstance(ident, str) or not ident:
        raise fail('expected an "id" (or "url") string', "id")
    labels = data.get("labels")
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise fail("expected a list of topic names", "labels")
    sources = [k for k in ("text", "html", "path") if isinstance(data.get(k), str)]
    if not sources:
        raise fail('expected one of "text", "html" or "path" (a string)', "text")
    title = data.get("title") or ""
    if not isinstance(title, str):
        raise fail("expected a string", "title")
    reviewed = data.get("reviewed_topics")
    if reviewed is not None and (
        not isinstance(reviewed, list) or not all(isinstance(x, str) for x in reviewed)
    ):
        raise fail("expected a list of topic names", "reviewed_topics")
    raw_path = data.get("path")
    return LabelledItem(
        id=ident,
        labels=tuple(labels),
        title=title,
        text=data.get("text") if isinstance(data.get("text"), str) else None,
        html=data.get("html") if isinstance(data.get("html"), str) else None,
        path=(base / raw_path) if isinstance(raw_path, str) else None,
        url=data.get("url") if isinstance(data.get("url"), str) else None,
        lang=data.get("lang") if isinstance(data.get("lang"), str) else None,
        reviewed_topics=tuple(reviewed) if reviewed is not None else None,
        attrs={k: v for k, v in data.items() if k not in _SOURCE_KEYS and isinstance(v, str) and v},
    )


def load_labelled(path: Path | str) -> list[LabelledItem]:
    """Read and check a labelled JSON Lines file (ConfigError naming the line on bad input)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read labelled file: {exc}", path=str(path)) from None
    items: list[LabelledItem] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            message = f"invalid JSON: {exc.msg}"
            raise ConfigError(message, path=str(path), field=f"line {number}") from None
        item = _item(data, path.parent, f"line {number}", path)
        if item.id in seen:
            raise ConfigError(f"duplicate id {item.id!r}", path=str(path), field=f"line {number}")
        seen.add(item.id)
        items.append(item)
    if not items:
        raise ConfigError("no labelled items in the file", path=str(path))
    return items


def _extract(html: bytes | str, url: str | None, title: str, lang: str | None) -> Document:
    from crawler.extract import Extracted, extract_html  # lazy: pulls in trafilatura

    result = extract_html(html, url)
    if not isinstance(result, Extracted):
        raise ValueError(result.reason)
    return Document(title or result.title or "", result.text, lang or result.language, url)


def item_document(item: LabelledItem) -> Document:
    """The document an item describes (HTML is extracted; ValueError if that fails)."""
    if item.text is not None:
        return Document(item.title, item.text, item.lang, item.url)
    if item.html is not None:
        return _extract(item.html, item.url, item.title, item.lang)
    assert item.path is not None
    try:
        data = item.path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read {item.path}: {exc.strerror or exc}") from None
    if item.path.suffix == ".gz":
        data = gzip.decompress(data)
    if item.path.suffix in (".txt", ".text") or (
        item.path.suffixes[-2:-1] == [".txt"] and item.path.suffix == ".gz"
    ):
        return Document(item.title, data.decode("utf-8", "replace"), item.lang, item.url)
    return _extract(data, item.url, item.title, item.lang)


def count_outcome(score: TopicScore, ident: str, gold: bool, got: bool) -> None:
    """Count one judged (item, topic) pair as a true/false positive/negative."""
    if gold and got:
        score.tp += 1
    elif got:
        score.fp += 1
        score.false_positives.append(ident)
    elif gold:
        score.fn += 1
        score.false_negatives.append(ident)
    else:
        score.tn += 1


def run_eval(matcher: Matcher, items: Iterable[LabelledItem]) -> EvalReport:
    """Match every item and score each of the matcher's topics."""
    scores = {topic: TopicScore(topic) for topic in matcher.topics}
    predictions: dict[str, list[str]] = {}
    errors: dict[str, str] = {}
    for item in items:
        try:
            predicted = [r.topic for r in matcher.match(item_document(item))]
        except ValueError as exc:
            errors[item.id] = str(exc)
            predicted = []
        predictions[item.id] = predicted
        for topic, score in scores.items():
            if item.judged(topic):
                count_outcome(score, item.id, topic in item.labels, topic in predicted)
    return EvalReport(scores, predictions, errors)


MISSING = "(none)"


def breakdown(
    report: EvalReport, items: Iterable[LabelledItem], by: str
) -> dict[str, dict[str, TopicScore]]:
    """The report's scores split by an item field ("lang", "kind", ...): value → topic → score.

    Items without the field are grouped under "(none)"; no item is matched again.
    """
    groups: dict[str, dict[str, TopicScore]] = {}
    for item in items:
        value = item.attr(by) or MISSING
        scores = groups.setdefault(value, {t: TopicScore(t) for t in report.topics})
        predicted = report.predictions.get(item.id, [])
        for topic, score in scores.items():
            if item.judged(topic):
                count_outcome(score, item.id, topic in item.labels, topic in predicted)
    return dict(sorted(groups.items()))


def format_rate(value: float) -> str:
    """A rate with three decimals."""
    return f"{value:.3f}"


def score_line(s: TopicScore) -> str:
    """One topic's P/R/F1 and counts on one line."""
    return (
        f"{s.topic}: precision {format_rate(s.precision)} recall {format_rate(s.recall)} "
        f"f1 {format_rate(s.f1)} (tp {s.tp}, fp {s.fp}, fn {s.fn}, tn {s.tn})"
    )


def breakdown_lines(by: str, groups: dict[str, dict[str, TopicScore]]) -> list[str]:
    """Plain-text lines for a breakdown: a heading per value, then one line per topic."""
    lines = [f"by {by}:"]
    for value, scores in groups.items():
        first = next(iter(scores.values()), None)
        n = first.tp + first.fp + first.fn + first.tn if first else 0
        lines.append(f"  {by}={value} ({n} items)")
        lines.extend(f"    {score_line(s)}" for s in scores.values())
    return lines


def summary_lines(report: EvalReport, topics: Sequence[str] | None = None) -> list[str]:
    """Plain-text lines: one per topic with P/R/F1 and counts."""
    lines = []
    for name in topics or list(report.topics):
        lines.append(score_line(report.topics[name]))
    return lines
