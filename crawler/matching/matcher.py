"""The matcher: topic packs compiled once per process, documents scored per topic."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from threading import Lock
from typing import Any

from crawler.errors import ConfigError
from crawler.matching.entities import entity_finder
from crawler.matching.explain import hits_to_spans, score_parts, snippet, window_hits
from crawler.matching.genre import GenreVerdict, judge_genre
from crawler.matching.keywords import Hit, Lexicon, with_sentences
from crawler.matching.model import ENTITY_KINDS, Document, Span, TopicResult
from crawler.matching.pack import MergedPack, load_pack
from crawler.matching.prefilter import Prefilter, build_prefilter
from crawler.matching.rules import (
    HitIndex,
    Rule,
    RuleOutcome,
    anchored,
    compile_rules,
    run_rule,
)
from crawler.matching.text import FieldTokens, tokenize


@dataclass(frozen=True)
class RuleTrace:
    """One rule on one document: fired or nearly fired, with its evidence spans."""

    rule_id: str
    topic: str
    description: str
    fired: bool
    windows: int
    weight: float
    reason: str
    spans: list[Span]


@dataclass(frozen=True)
class _Compiled:
    lexicon: Lexicon
    rules: dict[str, list[Rule]]


_COMPILED: dict[str, _Compiled] = {}
_LOCK = Lock()


def _compile(pack: MergedPack) -> _Compiled:
    with _LOCK:
        compiled = _COMPILED.get(pack.digest)
        if compiled is None:
            lexicon = Lexicon(pack)
            rules = {name: compile_rules(topic, lexicon) for name, topic in pack.topics.items()}
            compiled = _COMPILED[pack.digest] = _Compiled(lexicon, rules)
        return compiled


class Matcher:
    """Scores documents against every enabled topic; picklable (re-compiles once per process)."""

    def __init__(
        self,
        pack: MergedPack,
        thresholds: Mapping[str, float] | None = None,
        disabled_topics: Collection[str] = (),
    ) -> None:
        thresholds = dict(thresholds or {})
        for name in [*thresholds, *disabled_topics]:
            if name not in pack.topics:
                known = ", ".join(sorted(pack.topics))
                raise ConfigError(f"unknown topic {name!r}; expected one of: {known}")
        for name, value in thresholds.items():
            if not 0 < value <= 100:
                raise ConfigError(f"threshold for {name!r} must be above 0, got {value}")
        self._pack = pack
        self._thresholds = thresholds
        self._disabled = tuple(disabled_topics)
        self._compiled = _compile(pack)
        self._prefilter: Prefilter | None = None
        self.pack_version: str = pack.version
        self.topics: list[str] = [t for t in pack.topics if t not in self._disabled]
        self._rules = [r for t in self.topics for r in self._compiled.rules[t]]

    def __reduce__(self) -> tuple[Any, ...]:
        return (Matcher, (self._pack, self._thresholds, self._disabled))

    def threshold(self, topic: str) -> float:
        """The score a topic needs."""
        return self._thresholds.get(topic, self._pack.topics[topic].settings.threshold)

    def label(self, topic: str) -> str:
        """A topic's human label."""
        return self._pack.topics[topic].settings.label or topic

    @property
    def rules(self) -> list[Rule]:
        """The compiled rules of the enabled topics."""
        return list(self._rules)

    @property
    def lexicon(self) -> Lexicon:
        """The compiled term groups."""
        return self._compiled.lexicon

    @property
    def prefilter(self) -> Prefilter:
        """The raw-page prefilter derived from the enabled topics' rules."""
        if self._prefilter is None:
            self._prefilter = build_prefilter(self.lexicon, self.rules)
        return self._prefilter

    def _run(
        self, doc: Document
    ) -> tuple[dict[str, FieldTokens], dict[str, list[RuleOutcome]], list[Hit]]:
        fields = {"title": tokenize(doc.title or "", "title"), "text": tokenize(doc.text, "text")}
        hits = self.lexicon.find([fields["title"], fields["text"]])
        if not anchored(self._rules, {h.group for h in hits}):
            idle = {t: [RuleOutcome(r, ()) for r in self._compiled.rules[t]] for t in self.topics}
            return fields, idle, hits
        index = HitIndex(with_sentences(hits, fields))
        outcomes = {
            topic: [run_rule(rule, index) for rule in self._compiled.rules[topic]]
            for topic in self.topics
        }
        return fields, outcomes, hits

    def _genre(self, doc: Document, hits: list[Hit]) -> GenreVerdict | None:
        """The page's genre verdict (None when the packs define no genre signals)."""
        spec = self._pack.genre
        if spec is None:
            return None
        return judge_genre(spec, self.lexicon.index, hits, doc.title or "", doc.text)

    def _result(
        self,
        topic: str,
        outcomes: list[RuleOutcome],
        fields: dict[str, FieldTokens],
        entities: dict[str, list[str]],
    ) -> TopicResult:
        settings = self._pack.topics[topic].settings
        parts = score_parts(settings, outcomes)
        score = round(sum(parts.values()), 4)
        threshold = self.threshold(topic)
        fired = [o for o in outcomes if o.fired]
        spans = hits_to_spans(
            window_hits([w for o in fired for w in o.windows]), fields, self.lexicon.groups
        )
        text, marks = snippet(spans, fields)
        return TopicResult(
            topic=topic,
            label=self.label(topic),
            score=score,
            threshold=threshold,
            matched=bool(parts) and score >= threshold - 1e-9,
            rules=[o.rule.id for o in fired],
            near_misses=[o.rule.id for o in outcomes if o.near_reason],
            spans=spans,
            snippet=text,
            snippet_marks=marks,
            score_parts=parts,
            entities=entities,
            pack_version=self.pack_version,
        )

    def _evaluate(
        self, doc: Document, always_entities: bool = False
    ) -> tuple[
        list[TopicResult],
        dict[str, FieldTokens],
        dict[str, list[RuleOutcome]],
        GenreVerdict | None,
    ]:
        fields, outcomes, hits = self._run(doc)
        entities: dict[str, list[str]] = {kind: [] for kind in ENTITY_KINDS}
        results = [self._result(t, outcomes[t], fields, entities) for t in self.topics]
        verdict = None
        if always_entities or any(r.matched for r in results):
            # a page that only explains (guide, ad, poll) reports nothing to alert on
            verdict = self._genre(doc, hits)
            if verdict is not None and verdict.explainer:
                assert self._pack.genre is not None
                for r in results:
                    if r.matched:
                        r.matched = False
                        r.near_misses.append(self._pack.genre.id)
        if always_entities or any(r.matched for r in results):
            # entities cost as much as matching: only for matches (and `check`)
            entities.update(entity_finder().find(fields["title"].text, fields["text"].text))
        return results, fields, outcomes, verdict

    def evaluate(self, doc: Document) -> list[TopicResult]:
        """Every enabled topic's result, matched or not (near misses included).

        Entities are filled in when some topic matched (they are shared by the results).
        """
        return self._evaluate(doc)[0]

    def match(self, doc: Document) -> list[TopicResult]:
        """Only the topics the document matches."""
        return [r for r in self.evaluate(doc) if r.matched]

    def trace(self, doc: Document) -> tuple[list[TopicResult], list[RuleTrace]]:
        """Results plus every rule that fired or nearly fired, with spans (for `check`)."""
        results, fields, outcomes, verdict = self._evaluate(doc, always_entities=True)
        traces = []
        genre = self._pack.genre
        if genre is not None and verdict is not None and verdict.explainer:
            traces.append(
                RuleTrace(genre.id, "", genre.description, False, 0, 0.0, verdict.reason, [])
            )
        for topic, found in outcomes.items():
            for o in found:
                if not (o.fired or o.near_reason):
                    continue
                windows = o.windows or o.near_windows
                spans = hits_to_spans(window_hits(windows), fields, self.lexicon.groups)
                traces.append(
                    RuleTrace(
                        o.rule.id,
                        topic,
                        o.rule.description,
                        o.fired,
                        o.count,
                        o.rule.weight,
                        o.near_reason,
                        spans,
                    )
                )
        return results, traces


def near_matches(results: Sequence[TopicResult], share: float) -> list[TopicResult]:
    """The "possible" results: not matched, but a rule fired (so its anchor did) and the
    score reached `share` × threshold."""
    return [
        r
        for r in results
        if not r.matched and r.rules and r.score > 0 and r.score >= share * r.threshold - 1e-9
    ]


_MATCHERS: dict[tuple[Any, ...], Matcher] = {}


def load_matcher(
    extra_packs: Sequence[Path] = (),
    thresholds: Mapping[str, float] | None = None,
    disabled_topics: Collection[str] = (),
) -> Matcher:
    """The matcher for the built-in pack plus extra packs (cached per process)."""
    stamps = []
    for path in extra_packs:
        try:
            stat = Path(path).stat()
            stamps.append((str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size))
        except OSError:
            stamps.append((str(path), 0, 0))  # load_pack reports the unreadable file
    key = (
        tuple(stamps),
        tuple(sorted((thresholds or {}).items())),
        tuple(sorted(disabled_topics)),
    )
    matcher = _MATCHERS.get(key)
    if matcher is None:
        pack = load_pack([Path(p) for p in extra_packs])
        matcher = _MATCHERS[key] = Matcher(pack, thresholds, disabled_topics)
    return matcher
