"""Word patterns for incident fields: development and action kinds, court kinds, circumstances.

Patterns are tried in order and the first that fires wins, title before lede: a headline
"Judge orders release of man arrested at courthouse" is a ruling, not an arrest, because the
ruling pattern is tried first and the headline states the news.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_I = re.I

# (development, pattern) in priority order, for courthouse arrests.
DEVELOPMENT_RULES: list[tuple[str, re.Pattern[str]]] = [
    (
        "resignation",
        re.compile(r"\b(?:resign\w*|steps? down|stepping down|renunci\w+|dimit\w+)\b", _I),
    ),
    (
        "ruling",
        re.compile(
            r"\b(?:ruled|ruling|rules (?:that|for|against|in)|verdict|acquit\w*|convict\w*|"
            r"found (?:not )?guilty|sentenc\w+|"
            r"orders? (?:\w+ )?(?:release|freed)|judge orders|jueza? ordena|"
            r"dismiss(?:es|ed)? (?:the )?(?:charges|case)|"
            r"jury (?:clears|finds)|fallo|falla|dictamin\w+|absuel\w+|condena\w*|"
            r"declara\w* culpable|"
            r"orden\w* (?:la )?liberación)\b",
            _I,
        ),
    ),
    ("trial", re.compile(r"\b(?:trial|jury selection|testif\w+|juicio|testific\w+)\b", _I)),
    (
        "charge",
        re.compile(
            r"\b(?:charg(?:ed|es|ing)|indict\w*|arraign\w*|pleads?|pleaded|cargos|acusad[oa]s? "
            r"formalmente|acusa(?:n|ron)? formalmente|acusad[oa]s?|imputad\w+|acusación)\b",
            _I,
        ),
    ),
    (
        "protest",
        re.compile(
            r"\b(?:protest\w*|rall(?:y|ies|ied)|march(?:ed|es)?|vigil|protesta\w*|"
            r"manifest\w+|marcha)\b",
            _I,
        ),
    ),
    (
        "aftermath",
        re.compile(
            r"\b(?:deported|deports?|released|transferred|freed|returns? home|reunited|"
            r"deportad[oa]|deportan|deportaron|liberad[oa]|liberan|trasladad[oa]|family says)\b",
            _I,
        ),
    ),
    (
        "policy",
        re.compile(
            r"\b(?:new rule|bars? (?:civil )?(?:immigration )?arrests|ban(?:s|ning)? (?:civil )?"
            r"arrests|bill|protect our courts|court rule|directive|prohíbe|proyecto de ley|"
            r"nueva (?:regla|norma))\b",
            _I,
        ),
    ),
    (
        "arrest",
        re.compile(
            r"\b(?:arrest\w*|detain\w*|detention\w*|held|taken|detien\w+|deten\w+|"
            r"arresta\w*)\b",
            _I,
        ),
    ),
]
# (action kind, pattern) in priority order, for sanctuary disputes.
ACTION_RULES: list[tuple[str, re.Pattern[str]]] = [
    (
        "appeal",
        re.compile(
            r"\b(?:appealed|appeals (?:the |a |its |his |her )?(?:ruling|decision|loss|dismissal)|"
            r"files? (?:an )?appeal|filed (?:an )?appeal|asks? (?:an )?appeals court|"
            r"apel(?:ó|aron|a el fallo)|recurr\w+ (?:el|la) fallo)\b",
            _I,
        ),
    ),
    (
        "law_blocked",
        re.compile(
            r"\b(?:blocks?|blocked|halts?|halted|injunction|strikes? down|struck down|"
            r"bloque\w+|suspend\w+ (?:la|una) ley)\b",
            _I,
        ),
    ),
    (
        "ruling",
        re.compile(
            r"\b(?:ruled|ruling|rules (?:that|for|against|in)|upholds?|upheld|sides? with|"
            r"judge (?:finds|says|lets|allows)|dismiss(?:es|ed)? (?:a|the) (?:lawsuit|suit|case)|"
            r"fallo|falla|dictamin\w+|da la razón)\b",
            _I,
        ),
    ),
    (
        "lawsuit_filed",
        re.compile(r"\b(?:sues?|sued|suing|lawsuit|files? suit|demanda\w*|querella)\b", _I),
    ),
    (
        "law_signed",
        re.compile(
            r"\b(?:signs?|signed|firma\w*|promulg\w+)\b[^.]{0,40}\b(?:law|bill|ley|"
            r"measure|proyecto)\b",
            _I,
        ),
    ),
    (
        "law_passed",
        re.compile(
            r"\b(?:pass(?:es|ed)?|approv\w+|aprueb\w+|aprob\w+|votes? to)\b[^.]{0,50}"
            r"\b(?:law|bill|ley|measure|ordinance|ordenanza|resolution)\b",
            _I,
        ),
    ),
    (
        "funding_cut",
        re.compile(
            r"\b(?:cuts?|withholds?|withheld|pulls?|strips?|freezes?|recorta\w*|"
            r"retien\w+)\b[^.]{0,40}\b(?:funds?|funding|grants?|fondos|dollars)\b",
            _I,
        ),
    ),
    (
        "funding_threat",
        re.compile(
            r"\b(?:threat\w*|warns?|amenaz\w+|advierte\w*|podrían recortar)\b[^.]{0,60}"
            r"\b(?:funds?|funding|grants?|fondos|money)\b|"
            r"\b(?:funds?|funding|fondos|grants?)\b[^.]{0,40}\b(?:at risk|threat)|"
            r"\bor (?:lose|perder)\b",
            _I,
        ),
    ),
    (
        "287g_ended",
        re.compile(
            r"\b(?:ends?|ended|ending|terminat\w+|withdraw\w*|exits?|leaves|quits?|"
            r"pone fin|termina|pulls? out)\b[^.]{0,60}287\(g\)|287\(g\)[^.]{0,40}"
            r"\b(?:ended|terminated|ends)\b",
            _I,
        ),
    ),
    (
        "287g_renewed",
        re.compile(
            r"\b(?:renew\w*|extends?|extended|renueva\w*)\b[^.]{0,60}287\(g\)|287\(g\)"
            r"[^.]{0,40}\brenew\w*",
            _I,
        ),
    ),
    (
        "287g_joined",
        re.compile(
            r"\b(?:joins?|joined|signs?|signed|enters?|entered|approv\w+|firma\w*|"
            r"se une|adhiere)\b[^.]{0,60}287\(g\)|287\(g\)",
            _I,
        ),
    ),
    (
        "data_sharing_ordered",
        re.compile(
            r"\b(?:subpoena\w*|demand\w* (?:for )?(?:data|records)|orders? \w+ to "
            r"(?:share|hand over)|exig\w+ (?:los )?datos)\b",
            _I,
        ),
    ),
    (
        "data_sharing_restricted",
        re.compile(
            r"\b(?:data|records|information|datos|DMV)\b[^.]{0,60}\b(?:restrict\w*|"
            r"bars?|bans?|refus\w+|rejects?|limits?|shield\w*|niega|rechaza\w*)\b|"
            r"\b(?:restrict\w*|bars?|bans?|refus\w+|rejects?|rechaza\w*|prohíbe|"
            r"prohib\w+|limita\w*)\b[^.]{0,60}"
            r"\b(?:data|records|information|datos)\b",
            _I,
        ),
    ),
    (
        "detainer_policy",
        re.compile(
            r"\b(?:detainers?|hold requests?|órdenes? de retención|detención migratoria|"
            r"no longer hold|will hold)\b",
            _I,
        ),
    ),
]
STATUS = {
    "lawsuit_filed": "pending in court",
    "ruling": "decided",
    "appeal": "on appeal",
    "law_blocked": "blocked",
    "law_signed": "in effect",
    "law_passed": "passed",
    "funding_threat": "threatened",
    "funding_cut": "funds withheld",
}
_COURT_PRIORITY = re.compile(r"Immigration|Federal Plaza|Family|Criminal|Courthouse|Court")
_KIND_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "immigration",
        re.compile(
            r"\bimmigration court|Federal Plaza|corte de inmigración|"
            r"tribunal de inmigración",
            _I,
        ),
    ),
    (
        "family",
        re.compile(
            r"\bfamily court|tribunal de familia|corte familiar|custody hearing|"
            r"audiencia (?:de|sobre la) custodia",
            _I,
        ),
    ),
    (
        "federal",
        re.compile(
            r"\b(?:federal (?:court|judge|courthouse)|U\.S\. District Court|"
            r"district judge|corte federal|juez federal|jueza federal)\b",
            _I,
        ),
    ),
    ("civil", re.compile(r"\b(?:civil court|housing court|small claims)\b", _I)),
    (
        "criminal",
        re.compile(
            r"\b(?:criminal court|criminal courthouse|superior court|municipal "
            r"court|district court|county court|magistrate|arraignment|"
            r"courthouse|corte penal|tribunal penal|juzgado|corte)\b",
            _I,
        ),
    ),
]
_PARTY_WORDS = [
    ("council", re.compile(r"\b(?:city council|council|concejo|cabildo)\b", _I)),
    (
        "county board",
        re.compile(r"\b(?:board of supervisors|county commission\w*|commissioners)\b", _I),
    ),
    ("legislature", re.compile(r"\b(?:legislature|lawmakers|legislatura|legisladores)\b", _I)),
]
COMMON_CAPITALS = frozenset(
    re.findall(
        r"\S+",
        "the this that but and he she they his her it its in on at said says after before when "
        "while under over with from for into new more most some many one two three last first "
        "monday tuesday wednesday thursday friday saturday sunday january february march april "
        "may june july august september october november december according ms. mr. mrs. "
        "el la los las un una en de del por para con que se su sus lunes martes miércoles jueves "
        "viernes sábado domingo immigration court courthouse county city state federal judge "
        "agents officers lawyers attorney police department office justice",
    )
)


def _first(rules_list: list[tuple[str, re.Pattern[str]]], *texts: str) -> str | None:
    for text in texts:
        for name, pattern in rules_list:
            if pattern.search(text):
                return name
    return None


def classify(kind: str, title: str, lede: str) -> str:
    """The development (courthouse) or action kind (sanctuary) the article reports."""
    if kind == "sanctuary_dispute":
        return _first(ACTION_RULES, title, lede) or "official_clash"
    return _first(DEVELOPMENT_RULES, title) or _lede_development(lede)


def _lede_development(lede: str) -> str:
    """In the lede an arrest verb outranks later developments named in passing."""
    first = lede.split(". ")[0]
    if re.search(
        r"\b(?:arrest\w*|detain\w*|took \w+ into custody|deten\w+|arrest\w+)\b", first, _I
    ):
        return "arrest"
    return _first(DEVELOPMENT_RULES, first) or "arrest"


def pick_court(courts: list[str], text: str) -> str | None:
    """The court the story is about: the first named court, immigration courts first."""
    if not courts:
        return None
    named = [c for c in courts if _COURT_PRIORITY.search(c)]
    return (named or courts)[0]


_NAME_KINDS: list[tuple[str, re.Pattern[str]]] = [
    ("federal", re.compile(r"\b(?:U\.S\.|Federal Court|United States|Federal Courthouse)")),
    ("immigration", re.compile(r"Immigration|Federal Plaza|Inmigración")),
    ("family", re.compile(r"\bFamily\b")),
    ("civil", re.compile(r"\b(?:Civil|Housing)\b")),
    (
        "criminal",
        re.compile(r"\b(?:Criminal|Superior|Municipal|Circuit|District|Supreme|Justice)\b"),
    ),
]


def court_kind(court: str | None, text: str) -> tuple[str, str] | None:
    """(kind, evidence) of the court: from its name, else from how the text names courts."""
    for kind, pattern in _NAME_KINDS:
        if court and pattern.search(court):
            return kind, court
    for body in (text,):
        for kind, pattern in _KIND_PATTERNS:
            m = pattern.search(body)
            if m:
                return kind, m.group(0)
    return None


def parties(agencies: Iterable[str], officials: Iterable[str], text: str) -> list[str]:
    """Who is in the dispute: federal agencies, officials' roles, councils and legislatures."""
    out = [a for a in agencies if a in ("DOJ", "ICE", "DHS", "USCIS", "CBP")]
    for official in officials:
        role = official.split(" ")[0].lower() if " " in official else official
        out.append(role if role in ("mayor", "governor", "sheriff", "judge") else official.lower())
    for name, pattern in _PARTY_WORDS:
        if pattern.search(text):
            out.append(name)
    return list(dict.fromkeys(out))[:8]
