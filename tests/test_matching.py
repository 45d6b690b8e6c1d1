"""The matcher: word-aware rules, exclusions, explanations, thresholds, packs, pickling."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.errors import ConfigError
from crawler.matching import Document, Matcher, TopicResult, load_matcher, mark_snippet
from crawler.matching.text import inflections, tokenize

CA = "courthouse_arrest"
SD = "sanctuary_dispute"
COURT_STORY = (
    "ICE agents arrested a man at the Queens Criminal Court on Tuesday after his hearing, "
    "his lawyer said. Immigration and Customs Enforcement confirmed he was in custody."
)


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return load_matcher()


def topics(matcher: Matcher, text: str, title: str = "") -> set[str]:
    return {r.topic for r in matcher.match(Document(title, text))}


def result(matcher: Matcher, text: str, topic: str, title: str = "") -> TopicResult:
    return next(r for r in matcher.evaluate(Document(title, text)) if r.topic == topic)


def agency_spans(matcher: Matcher, text: str) -> list[str]:
    _results, traces = matcher.trace(Document("", text))
    return sorted({s.text for t in traces for s in t.spans if s.group == "agency"})


def test_court_story_matches_with_explanation(matcher: Matcher) -> None:
    r = result(matcher, COURT_STORY, CA)
    assert r.matched and r.score >= r.threshold
    assert "ca.agents_arrest_at_court" in r.rules
    assert r.pack_version == matcher.pack_version and r.pack_version
    assert sum(v for v in r.score_parts.values()) == pytest.approx(r.score)
    for span in r.spans:
        assert COURT_STORY[span.start : span.end] == span.text
        assert span.field == "text"
    assert {"agency", "arrest", "court_place"} <= {s.group for s in r.spans}
    assert 0 < len(r.snippet) <= 500
    marked = {r.snippet[a:b] for a, b in r.snippet_marks}
    assert "ICE" in marked and "arrested" in marked
    assert r.entities["agency"] == ["ICE"]
    assert "Queens Criminal Court" in r.entities["court"]


def test_match_returns_only_matched_topics_and_evaluate_returns_all(matcher: Matcher) -> None:
    doc = Document("", COURT_STORY)
    assert [r.topic for r in matcher.match(doc)] == [CA]
    assert [r.topic for r in matcher.evaluate(doc)] == matcher.topics == [CA, SD]


@pytest.mark.parametrize(
    "text",
    [
        "Police said the price of ice went up after the service notice.",
        "The ice on the courthouse steps led police to arrest nobody.",
        "Justice officials at the police office arrested a man at the courthouse.",
    ],
)
def test_ice_is_never_a_substring_or_lowercase_word(matcher: Matcher, text: str) -> None:
    assert agency_spans(matcher, text) == []
    assert topics(matcher, text) == set()


def test_soft_hyphens_join_words_and_keep_offsets(matcher: Matcher) -> None:
    text = "ICE agents arrested him at the court\xadhouse after his hear\xading."
    r = result(matcher, text, CA)
    assert r.matched
    court = next(s for s in r.spans if s.group == "court_place")
    assert court.text == "court\xadhouse" and text[court.start : court.end] == court.text


def test_curly_possessive_and_hyphens(matcher: Matcher) -> None:
    text = "ICE’s officers detained a man outside the courthouse; the anti-sanctuary bill failed."
    assert agency_spans(matcher, text) == ["ICE"]
    tokens = tokenize(text, "text")
    assert "s" not in tokens.norm and "anti" in tokens.norm and "sanctuary" in tokens.norm


@pytest.mark.parametrize("form", ["287(g)", "287 (g)", "287g", "287(G)"])
def test_287g_forms_are_one_token(matcher: Matcher, form: str) -> None:
    text = f"The sheriff signed a {form} agreement with ICE, and commissioners voted to end it."
    assert SD in topics(matcher, text, title=f"County fights over {form} program")


def test_accents_fold_and_spanish_terms_match(matcher: Matcher) -> None:
    text = (
        "Agentes de ICE arrestaron a un hombre a la salida de la corte de inmigracion. "
        "Otro inmigrante fue detenido en el tribunal el martes."
    )
    assert CA in topics(matcher, text, title="Arrestan a inmigrante en la corte")


@pytest.mark.parametrize(
    ("title", "text"),
    [
        (
            "ICE STORM WARNING FOR COUNTY",
            "Black ice closed the courthouse; police arrested a driver.",
        ),
        ("Markets", "ICE futures fell. ICE said the courthouse arrest of a trader was a hoax."),
        (
            "Exchange news",
            "Intercontinental Exchange (ICE) reported earnings. ICE agents of the exchange "
            "detained a hacker at the courthouse.",
        ),
        ("Hockey", "After the hockey game, ICE arrested a fan at the courthouse for fighting."),
        ("Cars", "ICE vehicles were seized at the courthouse lot during the arrest."),
    ],
)
def test_ice_exclusion_contexts(matcher: Matcher, title: str, text: str) -> None:
    assert CA not in topics(matcher, text, title)


@pytest.mark.parametrize(
    "text",
    [
        "The wildlife sanctuary sued the county over a highway that threatens its birds. "
        "The animal sanctuary vowed to fight the lawsuit.",
        "Supervisors voted to make the county a Second Amendment sanctuary county, defying "
        "state gun laws. The Second Amendment sanctuary resolution passed 4-1.",
        "The congregation offered sanctuary to an immigrant family facing deportation; the "
        "church has given sanctuary to immigrants before.",
    ],
)
def test_sanctuary_exclusion_contexts(matcher: Matcher, text: str) -> None:
    assert SD not in topics(matcher, text)


def test_sanctuary_dispute_matches(matcher: Matcher) -> None:
    text = (
        "The Justice Department sued the city over its sanctuary policy on Monday. "
        "The mayor vowed to fight the lawsuit to protect the sanctuary city law."
    )
    r = result(matcher, text, SD, title="DOJ sues city over sanctuary policy")
    assert r.matched and "sd.sanctuary_contested" in r.rules and "title" in r.score_parts


def test_near_misses_are_reported(matcher: Matcher) -> None:
    r = result(matcher, "ICE agents were seen at the courthouse on Monday.", CA)
    assert not r.matched
    assert "ca.agents_arrest_at_court" in r.near_misses
    _, traces = matcher.trace(Document("", "ICE agents were seen at the courthouse on Monday."))
    near = next(t for t in traces if t.rule_id == "ca.agents_arrest_at_court")
    assert not near.fired and near.reason == "missing arrest"
    assert {s.group for s in near.spans} == {"agency", "court_place"}


def test_other_location_vetoes_courthouse_window(matcher: Matcher) -> None:
    text = "ICE agents arrested him outside his home, a week before his court date in Queens."
    assert CA not in topics(matcher, text)


def test_one_sentence_counts_once_however_many_rules_fire(matcher: Matcher) -> None:
    r = result(matcher, COURT_STORY.split(". ")[0] + ".", CA)
    assert len(r.rules) > 1
    assert r.score == max(r.score_parts.values())


def test_title_evidence_adds_the_title_bonus(matcher: Matcher) -> None:
    r = result(matcher, "The man left court.", CA, title="ICE agents arrest man at courthouse")
    assert r.matched and r.score_parts["title"] == 0.5
    assert all(s.field == "title" for s in r.spans)
    assert r.snippet == "ICE agents arrest man at courthouse"


def test_snippet_is_densest_window_of_long_text(matcher: Matcher) -> None:
    filler = "The weather was mild and the council discussed parking meters downtown. " * 30
    doc = Document("", filler + COURT_STORY + " " + filler)
    r = next(x for x in matcher.evaluate(doc) if x.topic == CA)
    assert len(r.snippet) <= 500
    assert "ICE agents arrested" in r.snippet
    assert all(0 <= a < b <= len(r.snippet) for a, b in r.snippet_marks)


def test_to_dict_is_json_safe_and_round_trips(matcher: Matcher) -> None:
    r = result(matcher, COURT_STORY, CA)
    data = json.loads(json.dumps(r.to_dict()))
    assert data["snippet_marks"] == [list(m) for m in r.snippet_marks]
    assert TopicResult.from_dict(data) == r


def test_mark_snippet_escapes_every_piece() -> None:
    out = mark_snippet("a<b & c>d", [(2, 5), (0, 1)], lambda s: s.replace("<", "&lt;"), "[", "]")
    assert out == "[a]&lt;[b &] c>d"
    assert mark_snippet("abc", [], str.upper, "<", ">") == "ABC"


def test_thresholds_and_disabled_topics(matcher: Matcher) -> None:
    strict = load_matcher(thresholds={CA: 50})
    assert CA not in {r.topic for r in strict.match(Document("", COURT_STORY))}
    assert strict.threshold(CA) == 50 and strict.threshold(SD) == matcher.threshold(SD)
    only_sd = load_matcher(disabled_topics=[CA])
    assert only_sd.topics == [SD]
    assert only_sd.match(Document("", COURT_STORY)) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"thresholds": {"nope": 1.0}}, "unknown topic 'nope'"), ({"thresholds": {CA: 0}}, "above 0")],
)
def test_bad_overrides_raise_config_error(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_matcher(**kwargs)  # type: ignore[arg-type]


def test_matcher_is_picklable(matcher: Matcher) -> None:
    clone = pickle.loads(pickle.dumps(matcher))
    doc = Document("", COURT_STORY)
    assert [r.to_dict() for r in clone.match(doc)] == [r.to_dict() for r in matcher.match(doc)]


def test_load_matcher_is_cached(matcher: Matcher) -> None:
    assert load_matcher() is matcher
    assert matcher.prefilter is matcher.prefilter


def test_inflections() -> None:
    assert {"arrest", "arrests", "arrested", "arresting"} <= {
        f[0] for f in inflections(("arrest",), "verb")
    }
    assert ("nabbed",) in inflections(("nab",), "verb")
    assert ("sanctuary", "cities") in inflections(("sanctuary", "city"), "noun")
    assert ("taking", "into", "custody") in inflections(("take", "into", "custody"), "verb")


EXTRA_PACK = """
version = "7"

[groups.school_place]
en = ["school", "bus stop"]

[groups.arrest]
en = ["collar"]

[topics.school_arrest]
label = "School arrest"
threshold = 0.5

[[topics.school_arrest.rules]]
id = "sa.agents_at_school"
require = ["agency", "arrest", "school_place"]
within = 12
"""


def test_extra_pack_adds_topic_and_terms(tmp_path: Path) -> None:
    pack = tmp_path / "schools.toml"
    pack.write_text(EXTRA_PACK, encoding="utf-8")
    m = load_matcher([pack])
    assert m.topics == [CA, SD, "school_arrest"]
    assert m.pack_version.endswith("+schools@7")
    got = m.match(Document("", "ICE officers collared a father at the school gate."))
    assert [r.topic for r in got] == ["school_arrest"]
    assert got[0].rules == ["sa.agents_at_school"] and got[0].pack_version == m.pack_version


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (
            '[[topics.courthouse_arrest.rules]]\nid = "x.one"\nrequire = ["agency"]\n'
            'within = "paragraph"\n',
            "topics.courthouse_arrest.rules[0].within",
            "sentence",
        ),
        (
            '[[topics.courthouse_arrest.rules]]\nid = "x.two"\nrequire = ["agency", "nope"]\n',
            "topics.courthouse_arrest.rules[0].require[1]",
            "unknown term group 'nope'",
        ),
        ('[groups.agency]\nacronyms = ["ice"]\n', "groups.agency.acronyms[0]", "upper-case"),
        ('[groups.agency]\nen = ["x"]\nsynonyms = []\n', "groups.agency.synonyms", "unknown"),
        (
            "[topics.courthouse_arrest]\nthreshold = -1\n",
            "topics.courthouse_arrest.threshold",
            "greater than 0",
        ),
        (
            '[[topics.sanctuary_dispute.rules]]\nid = "sd.287g"\nrequire = ["g287"]\n',
            "topics.sanctuary_dispute.rules[0].id",
            "duplicate rule id",
        ),
    ],
)
def test_pack_errors_name_file_and_field(
    tmp_path: Path, body: str, field: str, message: str
) -> None:
    pack = tmp_path / "bad.toml"
    pack.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as info:
        load_matcher([pack])
    assert info.value.path == str(pack)
    assert info.value.field == field
    assert str(pack) in str(info.value) and field in str(info.value)


def test_unreadable_and_invalid_toml_packs(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read topic pack"):
        load_matcher([tmp_path / "missing.toml"])
    broken = tmp_path / "broken.toml"
    broken.write_text("version = \n", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid TOML") as info:
        load_matcher([broken])
    assert info.value.path == str(broken)


WORDS = ["ICE", "ice", "agents", "arrested", "courthouse", "sanctuary", "city", "sued", "287(g)"]


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(
    title=st.text(max_size=60),
    parts=st.lists(st.one_of(st.sampled_from(WORDS), st.text(max_size=12)), max_size=80),
    seps=st.sampled_from([" ", "\n", ". ", "’s ", "-", "\xad", "  "]),
)
def test_any_text_evaluates_with_consistent_explanations(
    matcher: Matcher, title: str, parts: list[str], seps: str
) -> None:
    doc = Document(title, seps.join(parts))
    for r in matcher.evaluate(doc):
        assert r.matched == (bool(r.score_parts) and r.score >= r.threshold)
        assert len(r.snippet) <= 500
        assert all(0 <= a < b <= len(r.snippet) for a, b in r.snippet_marks)
        for span in r.spans:
            source = doc.title if span.field == "title" else doc.text
            assert source[span.start : span.end] == span.text


def test_marks_cover_terms_with_punctuation_whole(matcher: Matcher) -> None:
    doc = Document(
        "Sheriff ends 287(g) with ICE",
        "The sheriff will end the county jail partnership under 287(g). ICE agents said so.",
    )
    marked = {r.snippet[a:b] for r in matcher.match(doc) for a, b in r.snippet_marks}
    assert "287(g)" in marked and "287(" not in marked


def test_snippet_starts_at_a_sentence_boundary(matcher: Matcher) -> None:
    filler = "The town held its fair with rides and food stands for all who came that weekend. " * 4
    text = (
        filler + "On Monday the sheriff said the county would end its 287(g) agreement with ICE "
        "after a long debate about immigration detainers and the cost of the jail. " + filler
    )
    [r] = [r for r in matcher.match(Document("County ends 287(g) deal", text)) if r.snippet]
    assert r.snippet.startswith("On Monday the sheriff")


def test_whole_term_widens_cut_marks() -> None:
    from crawler.matching.describe import whole_term

    text = "under the 287(g) program and ICE's office"
    assert text[slice(*whole_term(text, 10, 14))] == "287(g)"
    assert text[slice(*whole_term(text, 17, 20))] == "program"
    assert text[slice(*whole_term(text, 29, 32))] == "ICE"
