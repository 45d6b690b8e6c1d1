"""Keep detained people's names out of incident records: a name stands as "a man", "a woman".

There is no named-entity model here: a detained person's name is a run of two or three
capitalised words in a sentence that reports a detention (or calls them a client, defendant
or detainee), that is not a place, an agency, a court or an official (a name right after
"Judge", "Mayor", "Sheriff" … keeps its place: officials keep their names). Once a name is
known, every later mention of it, of its surname and of "Mr./Ms. Surname" is replaced too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_NAME = re.compile(
    r"\b([A-ZÁÉÍÓÚÑ][a-záéíóúñü'’]+(?:[ -](?:de |del |la )?[A-ZÁÉÍÓÚÑ][a-záéíóúñü'’]+){1,2})\b"
)
_DETENTION = re.compile(
    r"\b(?:arrest\w*|detain\w*|detention|custody|handcuff\w*|deport\w*|client|defendant|"
    r"detainee|charged|indicted|convicted|acquitted|sentenced|taken|seized|stopped|held|"
    r"removed|removal|jail|"
    r"deten\w*|arrest\w*|esposad\w*|deportad\w*|acusad\w*)\b",
    re.I,
)
# Words that never belong to a detained person's name (places, institutions, calendar).
_NOT_PERSON = frozenset(
    re.findall(
        r"\S+",
        "Court Courthouse County City Street Avenue Plaza Federal Immigration Department Office "
        "Police Sheriff Judge Mayor Governor Council Attorney General District State Supreme "
        "Criminal Family Civil Superior Justice Hall Center Board Legal Aid Society Project "
        "University College Church Center Homeland Security Customs Enforcement Service Bureau "
        "Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May "
        "June July August September October November December North South East West New Los Las "
        "San Santa Fort Lake Mount United States America American Congress Senate House Assembly "
        "Republican Democrat Democratic Republicans Democrats Corte Tribunal Condado Ciudad "
        "Departamento Servicio Oficina Policía Alcalde Alcaldesa Gobernador Juez Jueza Fiscal "
        "Lunes Martes Miércoles Jueves Viernes Sábado Domingo ICE The This That But And",
    )
)
_TITLES = re.compile(
    r"(?:Judge|Justice|Mayor|Gov\.|Governor|Sheriff|Attorney General|District Attorney|"
    r"Commissioner|Council Member|Councilmember|Senator|Sen\.|Rep\.|Representative|Chief|"
    r"Secretary|Director|Alcalde|Alcaldesa|Gobernador|Gobernadora|Juez|Jueza|Fiscal|"
    r"juez|jueza|alcalde|alcaldesa|gobernador|gobernadora|fiscal|President|Superintendent|"
    r"Captain|Officer|Lt\.|Sgt\.|Dr\.|Professor|spokesman|spokeswoman|spokesperson|lawyer|"
    r"attorney|advocate|organizer|abogado|abogada|portavoz|said|dijo|told)\s+$"
)
_AFTER_NOT_DETAINED = re.compile(
    r"^,?\s+(?:a|an|the|who is|un|una|el|la)?\s*(?:lawyer|attorney|advocate|spokes\w+|director|"
    r"organizer|judge|official|professor|pastor|abogad\w|portavoz|said|dijo|told)\b"
)
_FEMALE = re.compile(
    r"\b(?:she|her|woman|mother|Ms\.|Mrs\.|ella|mujer|madre|detenida|señora)\b", re.I
)
_MALE = re.compile(r"\b(?:he|his|him|man|father|Mr\.|él|hombre|padre|detenido|señor)\b", re.I)
_SENTENCE = re.compile(r"(?:(?:Mr|Ms|Mrs|Dr|Sr|Sra|St|Jr)\.|[^.!?\n])+[.!?]?")
_HONORIFIC = re.compile(r"\b(?:Mr|Ms|Mrs|Sr|Sra)\.\s+([A-ZÁÉÍÓÚÑ][a-záéíóúñü'’-]+)")


def detained_names(
    text: str, officials: Iterable[str] = (), known: Iterable[str] = ()
) -> dict[str, str]:
    """Names of detained people in `text` → their stand-in ("a man", "a woman", "a defendant").

    `known` holds names the gazetteers recognised (places, courts, agencies): never people.
    """
    kept = {w for o in officials for w in o.split()[1:]}
    entities = list(known)
    entity_words = {w for e in entities for w in e.split()}
    found: dict[str, str] = {}
    for sentence in _SENTENCE.finditer(text):
        body = sentence.group(0)
        if not _DETENTION.search(body):
            continue
        for m in _NAME.finditer(body):
            words = re.split(r"[ -]", m.group(1))
            if any(w in _NOT_PERSON for w in words) or any(w in kept for w in words):
                continue
            if any(m.group(1) in entity for entity in entities) or any(
                w in entity_words for w in words
            ):
                continue
            if _TITLES.search(body[: m.start()]) or _AFTER_NOT_DETAINED.match(body[m.end() :]):
                continue
            if m.start() == 0 and words[0] in ("He", "She", "They"):
                continue
            context = text[sentence.start() : sentence.end() + 300]
            female, male = len(_FEMALE.findall(context)), len(_MALE.findall(context))
            stand_in = "a woman" if female > male else "a man" if male > female else "a defendant"
            found.setdefault(m.group(1), stand_in)
        for m in _HONORIFIC.finditer(body):  # "Mr. Asante was taken to a jail"
            surname = m.group(1)
            if surname in kept or surname in entity_words or surname in _NOT_PERSON:
                continue
            if any(surname == n.split()[-1] for n in found):
                continue
            female = m.group(0).startswith(("Ms", "Mrs", "Sra"))
            found.setdefault(surname, "a woman" if female else "a man")
    for surname, stand_in in list(found.items()):
        if " " in surname:
            continue
        # the full name written elsewhere ("when Kwame Asante walked out") goes too
        for m in re.finditer(rf"\b([A-ZÁÉÍÓÚÑ][a-záéíóúñü'’-]+) {re.escape(surname)}\b", text):
            if m.group(1) not in _NOT_PERSON and m.group(1) not in kept:
                found.setdefault(m.group(0), stand_in)
    return found


def redact(text: str, names: dict[str, str]) -> str:
    """Replace every mention of the names (full, surname, "Mr. Surname") by their stand-ins."""
    if not names or not text:
        return text
    for name, stand_in in sorted(names.items(), key=lambda kv: -len(kv[0])):
        words = name.split()
        the = "the " + stand_in.split(" ", 1)[1]
        text = re.sub(rf"\b(?:Mr\.|Ms\.|Mrs\.|Sr\.|Sra\.)\s+{re.escape(words[-1])}\b", the, text)
        text = re.sub(rf"\b{re.escape(name)}\b", stand_in, text)
        for word in (words[0], words[-1]):
            if len(word) > 2 and word not in _NOT_PERSON:
                text = re.sub(rf"\b{re.escape(word)}\b(?!\s+(?:County|Street|Court))", the, text)
    return text
