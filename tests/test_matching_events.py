"""Events stated flatly, and pages that report none: paraphrases of issue 11's classes.

Each case is written in our own words for one class of story (an actor, a policy object and an
action, with or without the topic's signature words), in English or Spanish, in the shapes
reporters publish: two-sentence briefs, teasers, deep paragraphs. Negatives are explainers,
guides, advertisements, polls and near misses; they must fire no topic.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.matching import Document, Matcher, load_matcher

CA = "courthouse_arrest"
SD = "sanctuary_dispute"

CASES: list[tuple[str, str, str, set[str]]] = [
    # 1. detainer practice, said flatly
    (
        "hold-no-warrant",
        "Sheriff changes jail policy",
        "The county sheriff said Thursday that deputies will no longer hold people for "
        "immigration agents unless a judge has signed a warrant. Federal officials called the "
        "change dangerous.",
        {SD},
    ),
    (
        "notify-not-hold-es",
        "La cárcel seguirá avisando a Inmigración",
        "La cárcel del condado informó el lunes que seguirá notificando a ICE cuando salga un "
        "recluso, pero ya no retendrá a nadie sin una orden judicial.",
        {SD},
    ),
    # 2. 287(g), as a brief
    (
        "287g-brief-es",
        "Condado se une al 287(g)",
        "El condado de Polk se unió al programa 287(g) de ICE, informó la oficina del "
        "alguacil. Es el sexto condado de la región en firmar el acuerdo este año.",
        {SD},
    ),
    (
        "287g-renew",
        "Sheriff renews ICE pact",
        "The sheriff's office renewed its agreement with Immigration and Customs Enforcement "
        "for another year on Monday, a spokesman said.",
        {SD},
    ),
    # 3. data sharing
    (
        "plate-cameras",
        "Council cuts off federal access to plate cameras",
        "The city council voted Tuesday to block immigration agents from searching the city's "
        "license plate reader network, saying a state law bars such use.",
        {SD},
    ),
    (
        "dmv-es",
        "Estado investiga entrega de datos de licencias a ICE",
        "El fiscal general del estado abrió una investigación después de que empleados "
        "compartieran datos de licencias de conducir con agentes de ICE, dijo su oficina el "
        "miércoles.",
        {SD},
    ),
    # 4. federal suits
    (
        "doj-sues-state",
        "Justice Department sues state over immigrant protections",
        "The Justice Department sued Oregon on Friday, asking a judge to strike down state "
        "protections for immigrants that it says obstruct deportations.",
        {SD},
    ),
    # 5. federal pressure without a lawsuit
    (
        "list-paused",
        "ICE pauses list",
        "Immigration officials paused publication of their list of jurisdictions that decline "
        "detainers after several sheriffs objected to being named on it.",
        {SD},
    ),
    (
        "commandeering",
        "State asks court to halt enforcement surge",
        "The state asked a federal judge on Monday to halt the immigration enforcement "
        "operation, arguing that federal officials are unlawfully commandeering local police.",
        {SD},
    ),
    # 6. courthouse-arrest law with arrests recounted: both
    (
        "courthouse-law-signed",
        "Governor signs courthouse arrest ban",
        "The governor signed a bill on Wednesday that bars civil immigration arrests at state "
        "courthouses. Lawmakers acted after ICE officers detained two men outside a county "
        "courthouse last spring.",
        {CA, SD},
    ),
    # 7. the judge's story
    (
        "judge-charged",
        "Judge charged in courthouse case",
        "A county judge was charged Tuesday with obstruction, accused of walking a defendant "
        "out through a back door while immigration agents waited in the hallway.",
        {CA},
    ),
    (
        "judge-es",
        "Suspenden a jueza",
        "La comisión judicial suspendió a una jueza acusada de ayudar a un acusado a eludir a "
        "los agentes de inmigración que lo esperaban en el pasillo del juzgado.",
        {CA},
    ),
    # 8. arrests after protective-order hearings, tip-offs
    (
        "protective-order",
        "Woman detained after protective order hearing",
        "A woman who came to court seeking a protective order was detained by ICE officers "
        "in the lobby minutes after the hearing, her lawyer said Friday.",
        {CA},
    ),
    (
        "probation-tip",
        "Probation officer tipped off ICE",
        "A probation officer emailed an immigration agent the man's next court date, records "
        "show, and he was arrested at the courthouse that morning.",
        {CA},
    ),
    # 9. no specific event: no topic
    (
        "explainer-287g",
        "What is 287(g)? How the program works",
        "The 287(g) program lets ICE deputize local officers. Under a jail model agreement, "
        "deputies check the immigration status of people booked into jail. In general, "
        "counties sign the agreement for a year. Here is what you need to know.",
        set(),
    ),
    (
        "law-firm-ad",
        "Arrested at court by ICE? Call us",
        "If you or a loved one was detained by immigration agents at a courthouse, our "
        "attorneys can help. Contact our office today for a free consultation. We fight for "
        "your family.",
        set(),
    ),
    (
        "guia-es",
        "Guía: qué hacer si ICE lo detiene en la corte",
        "Si usted tiene una cita en la corte, conozca sus derechos. Los agentes de ICE pueden "
        "detener a personas en los pasillos de algunos tribunales. Llámenos para una consulta "
        "gratuita con nuestros abogados.",
        set(),
    ),
    (
        "poll",
        "Poll: voters split on jail cooperation with ICE",
        "A new survey of registered voters found 51 percent support requiring county jails to "
        "honor ICE detainers. The poll has a margin of error of four points. Respondents "
        "under 30 were less supportive.",
        set(),
    ),
    (
        "jail-contract-es",
        "Condado pone fin a contrato con ICE",
        "Los comisionados del condado votaron el martes para cancelar el contrato que permitía "
        "alojar detenidos de ICE en la cárcel local.",
        {SD},
    ),
    (
        "grant-threat",
        "Feds threaten grant cuts over jail policy",
        "The Justice Department warned the county on Tuesday that it could lose federal grants "
        "unless the jail gives immigration agents access to inmates.",
        {SD},
    ),
    (
        "family-court-es",
        "Detienen a padre tras audiencia de custodia",
        "Agentes de ICE detuvieron a un padre a la salida del tribunal de familia, después de "
        "una audiencia de custodia, dijo su abogada.",
        {CA},
    ),
    (
        "immigration-court-dismissal",
        "Asylum seeker arrested after hearing",
        "An asylum seeker was arrested by immigration officers in the hallway of the "
        "immigration court after a judge dismissed her case.",
        {CA},
    ),
    (
        "candidate-forum",
        "Sheriff candidate forum",
        "Candidates for sheriff answered questions about jail conditions, staffing and "
        "cooperation with ICE at a forum Thursday night. The election is in November.",
        set(),
    ),
    (
        "doj-other-suit",
        "DOJ sues city over police hiring test",
        "The Justice Department sued the city on Monday, alleging its police entrance exam "
        "discriminates against Black and Hispanic applicants.",
        set(),
    ),
    (
        "plate-privacy",
        "Council debates plate reader privacy",
        "City council members debated Tuesday whether to keep license plate reader cameras "
        "after residents raised privacy concerns. Police said the cameras helped solve car "
        "thefts.",
        set(),
    ),
    (
        "explainer-es",
        "Qué es el programa 287(g)",
        "El programa 287(g) permite a la policía local colaborar con ICE. Los condados firman "
        "acuerdos con la agencia. Aquí te explicamos cómo funciona.",
        set(),
    ),
    (
        "background-law",
        "Man detained at Queens courthouse",
        "ICE officers detained a man in the lobby of Queens Criminal Court on Monday, his lawyer "
        "said. A state law passed in 2020 prohibits civil immigration arrests of people "
        "attending court unless a judge has signed a warrant.",
        {CA},
    ),
    (
        "background-287g",
        "Texas sheriff wins award",
        "Sheriff Dan Ortiz, whose office joined a 287(g) agreement in 2019, received a statewide "
        "award Friday for a jail literacy program.",
        set(),
    ),
    (
        "campaign-debate",
        "Sanctuary state debate heats up in governor's race",
        "The two candidates for governor sparred Tuesday over whether the state should remain "
        "a sanctuary state, with the challenger promising to repeal the law if elected.",
        set(),
    ),
    # 10. near misses
    (
        "unrelated-federal-case",
        "Agents arrest fraud suspect at courthouse",
        "Homeland Security Investigations agents arrested a man at the county courthouse on "
        "Tuesday on federal charges of wire fraud, prosecutors said.",
        set(),
    ),
    (
        "rumour",
        "No, ICE was not at the courthouse",
        "Posts claiming immigration agents were arresting people at the courthouse on Monday "
        "were false, the sheriff said. The men in the photo were state officers.",
        set(),
    ),
]


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return load_matcher()


@pytest.mark.parametrize(("ident", "title", "text", "labels"), CASES, ids=[c[0] for c in CASES])
def test_event_labels(
    matcher: Matcher, ident: str, title: str, text: str, labels: set[str]
) -> None:
    results = matcher.match(Document(title, text))
    assert {r.topic for r in results} == labels, ident
    for r in results:
        assert r.rules, ident  # every match names the rules that made it


def test_every_rule_and_the_genre_signal_has_a_description(matcher: Matcher) -> None:
    from crawler.matching.pack import load_pack

    for rule in matcher.rules:
        assert len(rule.description) > 20, rule.id
    genre = load_pack().genre
    assert genre is not None and len(genre.description) > 20


def test_an_explainer_is_a_near_miss_with_a_reason(matcher: Matcher) -> None:
    title, text = next((c[1], c[2]) for c in CASES if c[0] == "explainer-287g")
    results, traces = matcher.trace(Document(title, text))
    sd = next(r for r in results if r.topic == SD)
    assert not sd.matched and sd.score >= sd.threshold
    assert "genre.explainer" in sd.near_misses
    genre = next(t for t in traces if t.rule_id == "genre.explainer")
    assert "explainer" in genre.reason and genre.description


def test_a_report_with_a_second_person_quote_is_still_a_report(matcher: Matcher) -> None:
    doc = Document(
        "County ends 287(g) agreement",
        "HARRIS COUNTY, Texas — Commissioners voted 3-2 on Tuesday to end the county's 287(g) "
        'agreement with ICE. "If you call the police, you should not fear deportation," one '
        "commissioner said. The sheriff said he disagreed.",
    )
    assert {r.topic for r in matcher.match(doc)} == {SD}


def test_every_sample_site_article_gets_exactly_its_expected_topics(matcher: Matcher) -> None:
    """The demo's articles: positives matched, no hard negative, and no wrong topic."""
    from crawler.sample_site.content import load_specs

    wrong = {}
    for spec in load_specs():
        got = {r.topic for r in matcher.match(Document(spec.title, "\n\n".join(spec.paragraphs)))}
        if got != set(spec.expected_topics):
            wrong[spec.slug] = (sorted(spec.expected_topics), sorted(got))
    assert wrong == {}


def test_a_pack_genre_naming_an_unknown_group_fails_with_the_field(tmp_path: Path) -> None:
    from crawler.errors import ConfigError
    from crawler.matching.pack import load_pack

    extra = tmp_path / "extra.toml"
    extra.write_text("[genre]\nexplainer = { no_such_group = 1.0 }\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_pack([extra])
    assert "no_such_group" in str(info.value) and "genre.explainer" in str(info.value)


def test_an_extra_pack_can_switch_the_genre_signal_off(tmp_path: Path) -> None:
    from crawler.matching.matcher import Matcher
    from crawler.matching.pack import load_pack

    title, text = next((c[1], c[2]) for c in CASES if c[0] == "explainer-287g")
    extra = tmp_path / "extra.toml"
    extra.write_text("[genre]\nmin_explainer = 1000\n", encoding="utf-8")
    lenient = Matcher(load_pack([extra]))
    assert {r.topic for r in lenient.match(Document(title, text))} == {SD}
