"""Rules: required term groups co-occurring in one sentence or within N tokens, per field.

A rule fires in a window (a sentence, or a run of tokens whose hits start at most N tokens
apart) that holds a hit of every requirement; `unless` groups in the window's sentences veto it,
and `context` groups must occur somewhere in the document. A rule that did not fire but lacked
only one requirement (or was vetoed, or lacked context) is a near miss.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from crawler.matching.keywords import Hit, Lexicon
from crawler.matching.pack import MergedTopic

FIELDS = ("title", "text")


@dataclass(frozen=True)
class Rule:
    """A compiled rule: requirement alternatives as group indexes."""

    id: str
    topic: str
    description: str
    require: tuple[frozenset[int], ...]
    require_names: tuple[str, ...]
    within: int | None  # None: same sentence
    weight: float
    context: tuple[frozenset[int], ...]
    unless: frozenset[int]
    unless_names: tuple[str, ...]
    fields: tuple[str, ...]


@dataclass(frozen=True)
class Window:
    """Where a rule (or a near miss) found its evidence."""

    field: str
    sent_lo: int
    sent_hi: int
    hits: tuple[Hit, ...]


@dataclass(frozen=True)
class RuleOutcome:
    """What one rule found in one document."""

    rule: Rule
    windows: tuple[Window, ...]
    near_reason: str = ""  # set for near misses
    near_windows: tuple[Window, ...] = ()

    @property
    def fired(self) -> bool:
        """Whether the rule fired at least once."""
        return bool(self.windows)

    @property
    def count(self) -> int:
        """Distinct windows (sentences, or non-overlapping token windows)."""
        return len(self.windows)


def compile_rules(topic: MergedTopic, lexicon: Lexicon) -> list[Rule]:
    """Compile a merged topic's rules against the lexicon's group indexes."""

    def groups(item: str) -> frozenset[int]:
        return frozenset(lexicon.index[name] for name in item.split("|"))

    rules = []
    for sourced in topic.rules:
        spec = sourced.spec
        rules.append(
            Rule(
                id=spec.id,
                topic=topic.name,
                description=spec.description,
                require=tuple(groups(item) for item in spec.require),
                require_names=tuple(spec.require),
                within=spec.within if isinstance(spec.within, int) else None,
                weight=spec.weight,
                context=tuple(groups(item) for item in spec.context),
                unless=frozenset(g for item in spec.unless for g in groups(item)),
                unless_names=tuple(spec.unless),
                fields=FIELDS if spec.field == "any" else (spec.field,),
            )
        )
    return rules


class HitIndex:
    """Hits of one document indexed by (field, group), with the groups seen anywhere."""

    def __init__(self, hits: Sequence[Hit]) -> None:
        self.hits = hits
        self.by_key: dict[tuple[str, int], list[Hit]] = defaultdict(list)
        for hit in hits:
            self.by_key[(hit.field, hit.group)].append(hit)
        self.present = {hit.group for hit in hits}

    def of(self, field: str, groups: frozenset[int]) -> list[Hit]:
        """Hits in a field of any of the groups, by position."""
        if len(groups) == 1:
            return self.by_key.get((field, next(iter(groups))), [])
        found = [h for g in groups for h in self.by_key.get((field, g), [])]
        found.sort(key=lambda h: h.start)
        return found


def _overlap(a: Hit, b: Hit) -> bool:
    return a.start < b.end and b.start < a.end


def _disjoint(options: Sequence[Sequence[Hit]], chosen: tuple[Hit, ...] = ()) -> bool:
    """Whether one hit per requirement can be picked with no two overlapping ("ICE holds"
    must not count as both the detainer and the verb "holds")."""
    if len(chosen) == len(options):
        return True
    for hit in options[len(chosen)][:8]:
        if not any(_overlap(hit, c) for c in chosen) and _disjoint(options, (*chosen, hit)):
            return True
    return False


def _sentence_windows(field: str, per_req: list[list[Hit]]) -> list[Window]:
    common = set.intersection(*({h.sent for h in hits} for hits in per_req))
    if not common:
        return []
    grouped: dict[int, list[list[Hit]]] = {sent: [[] for _ in per_req] for sent in common}
    for k, hits in enumerate(per_req):
        for h in hits:
            if h.sent in common:
                grouped[h.sent][k].append(h)
    return [
        Window(field, sent, sent, tuple(h for hits in grouped[sent] for h in hits))
        for sent in sorted(common)
        if len(per_req) == 1 or _disjoint(grouped[sent])
    ]


def _token_windows(field: str, per_req: list[list[Hit]], within: int) -> list[Window]:
    merged = sorted((h.start, k, h) for k, hits in enumerate(per_req) for h in hits)
    need = len(per_req)
    last: dict[int, Hit] = {}
    windows: list[Window] = []
    accepted_hi = -1
    for start, k, hit in merged:
        last[k] = hit
        if len(last) < need:
            continue
        chosen = tuple(last.values())
        lo = min(h.start for h in chosen)
        if start - lo > within or lo <= accepted_hi:
            continue
        if any(_overlap(a, b) for i, a in enumerate(chosen) for b in chosen[i + 1 :]):
            continue
        accepted_hi = max(h.end for h in chosen) - 1
        sents = [h.sent for h in chosen]
        windows.append(Window(field, min(sents), max(sents), chosen))
    return windows


def find_windows(
    index: HitIndex, reqs: Sequence[frozenset[int]], within: int | None, fields: Sequence[str]
) -> list[Window]:
    """Every window where each requirement has a hit."""
    windows: list[Window] = []
    for field in fields:
        per_req = [index.of(field, req) for req in reqs]
        if not all(per_req):
            continue
        if within is None:
            windows.extend(_sentence_windows(field, per_req))
        else:
            windows.extend(_token_windows(field, per_req, within))
    return windows


def _vetoed(index: HitIndex, window: Window, unless: frozenset[int]) -> bool:
    return any(
        lo.sent >= window.sent_lo and lo.sent <= window.sent_hi
        for g in unless
        for lo in index.by_key.get((window.field, g), ())
    )


def run_rule(rule: Rule, index: HitIndex) -> RuleOutcome:
    """Evaluate one rule on a document's hits, noting near misses.

    The first requirement is the rule's anchor: without it the rule is not even a near miss.
    """
    present = index.present
    absent = [k for k, req in enumerate(rule.require) if not req & present]
    if 0 in absent or len(absent) > 1:
        return RuleOutcome(rule, ())
    if absent:
        return _near_miss(rule, index, absent)
    windows = find_windows(index, rule.require, rule.within, rule.fields)
    if windows and rule.unless:
        kept = [w for w in windows if not _vetoed(index, w, rule.unless)]
        if not kept:
            reason = "vetoed by " + "/".join(rule.unless_names)
            return RuleOutcome(rule, (), reason, (windows[0],))
        windows = kept
    if windows:
        if any(not req & present for req in rule.context):
            return RuleOutcome(rule, (), "no context in document", (windows[0],))
        return RuleOutcome(rule, tuple(windows))
    return _near_miss(rule, index, range(1, len(rule.require)))


def _near_miss(rule: Rule, index: HitIndex, drop: Sequence[int]) -> RuleOutcome:
    for k in drop:
        others = rule.require[:k] + rule.require[k + 1 :]
        near = find_windows(index, others, rule.within, rule.fields)
        if near:
            return RuleOutcome(rule, (), f"missing {rule.require_names[k]}", (near[0],))
    return RuleOutcome(rule, ())


def anchored(rules: Sequence[Rule], present: set[int]) -> bool:
    """Whether any rule's anchor (first requirement) occurs: otherwise nothing can fire."""
    return any(rule.require[0] & present for rule in rules)
