"""Topic packs: TOML files of term groups and topic rules, validated with pydantic and merged.

The built-in pack (`packs/default.toml`) always loads first; extra packs may add term groups,
add terms or exclusions to an existing group, add topics, add rules to an existing topic, or
override a topic's settings (threshold, bonuses). Every error names the file and the field.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from crawler.errors import ConfigError
from crawler.matching.text import term_tokens

DEFAULT_PACK = Path(__file__).with_name("packs") / "default.toml"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_RULE_ID = re.compile(r"^[a-z][a-z0-9_.-]*$")
_ACRONYM = re.compile(r"^[A-Z][A-Z0-9]+$")


def _check_term(value: str) -> str:
    if not term_tokens(value):
        raise ValueError("expected a term with at least one letter or digit")
    return value


def _check_acronym(value: str) -> str:
    if not _ACRONYM.match(value):
        raise ValueError('expected one upper-case word such as "ICE"')
    return value


def _check_name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError("expected a lower-case name of letters, digits and underscores")
    return value


Term = Annotated[str, AfterValidator(_check_term)]
Acronym = Annotated[str, AfterValidator(_check_acronym)]
Name = Annotated[str, AfterValidator(_check_name)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExcludeSpec(_Strict):
    """Contexts that cancel a group's hits (e.g. "ice storm" for the agency "ICE")."""

    terms: list[Term] = Field(min_length=1, description="Phrases, matched case-insensitively.")
    within: int = Field(0, ge=0, le=200, description="Max tokens between phrase and hit.")
    scope: Literal["window", "document"] = Field(
        "window", description="`document`: one occurrence cancels the group in the whole doc."
    )


class GroupSpec(_Strict):
    """A term group: synonyms in English and Spanish, case-sensitive acronyms, exclusions."""

    description: str = ""
    inflect: Literal["none", "noun", "verb"] = Field(
        "none", description="English inflection: noun inflects the last word, verb the first."
    )
    en: list[Term] = Field(default_factory=list, description="English terms (inflected).")
    es: list[Term] = Field(default_factory=list, description="Spanish terms (exact forms).")
    acronyms: list[Acronym] = Field(
        default_factory=list, description="Whole words matched only in capitals."
    )
    exclude: list[ExcludeSpec] = Field(default_factory=list)


class RuleSpec(_Strict):
    """A rule fires where every required group co-occurs within the window."""

    id: str = Field(pattern=_RULE_ID.pattern, description="Unique rule id.")
    description: str = ""
    require: list[str] = Field(min_length=1, description='Groups; "a|b" means a or b.')
    within: int | str = Field("sentence", description='"sentence" or a number of tokens.')
    weight: float = Field(1.0, gt=0, le=10)
    context: list[str] = Field(
        default_factory=list, description="Groups that must occur anywhere in the document."
    )
    unless: list[str] = Field(
        default_factory=list, description="Groups that veto a window in the same sentence."
    )
    field: Literal["any", "title", "text"] = "any"

    @field_validator("within")
    @classmethod
    def _within(cls, value: int | str) -> int | str:
        if value == "sentence" or (isinstance(value, int) and 1 <= value <= 500):
            return value
        raise ValueError(f'expected "sentence" or a number of tokens from 1 to 500, got {value!r}')


class TopicSpec(_Strict):
    """A topic: its label, score threshold, scoring bonuses and rules."""

    label: str = ""
    description: str = ""
    threshold: float = Field(1.0, gt=0, le=100, description="Score needed to match.")
    title_bonus: float = Field(
        0.5, ge=0, le=10, description="Added when a rule fires in the title."
    )
    repeat_bonus: float = Field(
        0.25, ge=0, le=10, description="Per extra window of a rule, as a fraction of its weight."
    )
    repeat_cap: int = Field(2, ge=0, le=20, description="Extra windows counted per rule.")
    rules: list[RuleSpec] = Field(default_factory=list)


class GenreSpec(_Strict):
    """Event versus explainer signals: a page that only explains fires no topic."""

    id: str = Field("genre.explainer", pattern=_RULE_ID.pattern, description="Shown as a rule.")
    description: str = ""
    event: dict[Name, float] = Field(
        default_factory=dict, description="Groups signalling a reported event, with weights."
    )
    explainer: dict[Name, float] = Field(
        default_factory=dict, description="Groups signalling an explainer, guide, ad or poll."
    )
    dateline_weight: float = Field(2.0, ge=0, le=100, description="A dateline opens the text.")
    quote_weight: float = Field(0.5, ge=0, le=100, description="Per quotation in the text.")
    timestamp_weight: float = Field(
        1.0, ge=0, le=100, description='Per live-blog entry opening with a time ("8:15 —").'
    )
    question_weight: float = Field(
        0.5, ge=0, le=100, description="Per question mark in the text (FAQs ask; reports tell)."
    )
    headline_weight: float = Field(
        4.0, ge=0, le=100, description='A headline labelled "Opinion:" or asking "What is…?".'
    )
    cap: int = Field(6, ge=1, le=1000, description="Hits counted per group at most.")
    title_factor: float = Field(
        2.0, ge=1, le=100, description="Explainer signals in the title count this many times."
    )
    min_explainer: float = Field(3.0, gt=0, le=1000, description="Explainer score needed.")
    margin: float = Field(
        1.0, ge=0, le=100, description="Explainer score must exceed event score × margin."
    )


class PackFile(_Strict):
    """One topic-pack file as written."""

    version: str | None = Field(None, description="Pack version, recorded with every match.")
    description: str = ""
    groups: dict[Name, GroupSpec] = Field(default_factory=dict)
    topics: dict[Name, TopicSpec] = Field(default_factory=dict)
    genre: GenreSpec | None = Field(
        None, description="Event vs explainer signals (the last pack that sets it wins)."
    )


@dataclass(frozen=True)
class SourcedRule:
    """A rule with the file and position it came from (for error messages)."""

    spec: RuleSpec
    path: str
    index: int


@dataclass(frozen=True)
class MergedTopic:
    """A topic after merging every pack: settings from the last file that set them."""

    name: str
    settings: TopicSpec
    rules: tuple[SourcedRule, ...]


@dataclass(frozen=True)
class MergedPack:
    """Every pack file merged, validated across files."""

    version: str
    groups: dict[str, tuple[GroupSpec, ...]]
    topics: dict[str, MergedTopic]
    digest: str
    genre: GenreSpec | None = None


def _field_path(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _validation_error(exc: ValidationError, path: str) -> ConfigError:
    problems = []
    for item in exc.errors(include_url=False):
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown field (check the spelling against the topic-pack reference)"
        elif "input" in item and item["type"] != "missing":
            message += f" (got {item['input']!r:.80})"
        problems.append(ConfigError(message, path=path, field=_field_path(item["loc"])))
    return ConfigError.combine(problems)


def read_pack(path: Path) -> tuple[PackFile, str]:
    """Parse and validate one pack file; returns it with the sha256 of its bytes."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot read topic pack: {exc.strerror or exc}", path=str(path)
        ) from None
    try:
        raw: dict[str, Any] = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"invalid TOML: {exc}", path=str(path)) from None
    try:
        pack = PackFile.model_validate(raw)
    except ValidationError as exc:
        raise _validation_error(exc, str(path)) from None
    return pack, hashlib.sha256(data).hexdigest()


def _merge_topic(old: MergedTopic | None, name: str, spec: TopicSpec, path: str) -> MergedTopic:
    rules = tuple(SourcedRule(rule, path, i) for i, rule in enumerate(spec.rules))
    if old is None:
        return MergedTopic(name, spec, rules)
    overrides = {k: getattr(spec, k) for k in spec.model_fields_set if k != "rules"}
    return MergedTopic(name, old.settings.model_copy(update=overrides), old.rules + rules)


def _merge_group(old: tuple[GroupSpec, ...], spec: GroupSpec) -> tuple[GroupSpec, ...]:
    if old and "inflect" not in spec.model_fields_set:
        spec = spec.model_copy(update={"inflect": old[0].inflect})
    return (*old, spec)


def _check_references(pack: MergedPack) -> None:
    problems: list[ConfigError] = []
    seen: dict[str, str] = {}
    for topic in pack.topics.values():
        if not topic.rules:
            problems.append(
                ConfigError("a topic needs at least one rule", field=f"topics.{topic.name}.rules")
            )
        for sourced in topic.rules:
            rule, where = sourced.spec, f"topics.{topic.name}.rules[{sourced.index}]"
            if rule.id in seen:
                problems.append(
                    ConfigError(
                        f"duplicate rule id {rule.id!r} (also in topic {seen[rule.id]!r})",
                        path=sourced.path,
                        field=f"{where}.id",
                    )
                )
            seen[rule.id] = topic.name
            for key in ("require", "context", "unless"):
                for j, item in enumerate(getattr(rule, key)):
                    for name in item.split("|"):
                        if name not in pack.groups:
                            known = ", ".join(sorted(pack.groups))
                            problems.append(
                                ConfigError(
                                    f"unknown term group {name!r}; expected one of: {known}",
                                    path=sourced.path,
                                    field=f"{where}.{key}[{j}]",
                                )
                            )
    for name, specs in pack.groups.items():
        if not any(s.en or s.es or s.acronyms for s in specs):
            problems.append(
                ConfigError("a term group needs at least one term", field=f"groups.{name}")
            )
    if pack.genre is not None:
        for key in ("event", "explainer"):
            for name in getattr(pack.genre, key):
                if name not in pack.groups:
                    known = ", ".join(sorted(pack.groups))
                    problems.append(
                        ConfigError(
                            f"unknown term group {name!r}; expected one of: {known}",
                            field=f"genre.{key}.{name}",
                        )
                    )
    if problems:
        raise ConfigError.combine(problems)


def load_pack(extra: Sequence[Path] = ()) -> MergedPack:
    """Load the built-in pack plus extra packs, merged and cross-checked."""
    groups: dict[str, tuple[GroupSpec, ...]] = {}
    topics: dict[str, MergedTopic] = {}
    versions: list[str] = []
    digests: list[str] = []
    problems: list[ConfigError] = []
    genre: GenreSpec | None = None
    for i, path in enumerate([DEFAULT_PACK, *extra]):
        try:
            pack, digest = read_pack(Path(path))
        except ConfigError as exc:  # keep reading: every pack's problems are reported at once
            problems.append(exc)
            continue
        if i == 0:
            if not pack.version:
                raise ConfigError("the built-in pack needs a version", path=str(path))
            versions.append(pack.version)
        else:
            versions.append(f"{Path(path).stem}@{pack.version or digest[:10]}")
        digests.append(digest)
        for name, group in pack.groups.items():
            groups[name] = _merge_group(groups.get(name, ()), group)
        for name, topic in pack.topics.items():
            topics[name] = _merge_topic(topics.get(name), name, topic, str(path))
        genre = pack.genre or genre
    if problems:
        raise ConfigError.combine(problems)
    merged = MergedPack(
        version="+".join(versions),
        groups=groups,
        topics=topics,
        digest=hashlib.sha256("".join(digests).encode()).hexdigest(),
        genre=genre,
    )
    _check_references(merged)
    return merged
