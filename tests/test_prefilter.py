"""The raw-page prefilter never drops a page the matcher matches (property test + real pages)."""

from __future__ import annotations

import gzip
import html
import json
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from crawler.extract import Extracted, extract_html
from crawler.matching import Document, Matcher, load_matcher
from crawler.matching.pageview import _SEQ_FOLD, char_bytes, page_views
from crawler.matching.text import fold
from crawler.pipelines import workers

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CORPUS_PAGES = SHARED / "corpus" / "pages"
SEED = SHARED / "seed" / "000_86de4751534dedde.txt"
DEV = REPO / "tests" / "fixtures" / "labelled" / "dev.jsonl"

STORIES = [
    Document(
        "ICE arrests man at Queens courthouse",
        "Immigration agents detained a man outside Queens Criminal Court on Tuesday after his "
        "hearing.\n\nICE confirmed he was taken into custody.",
    ),
    Document(
        "Justice Department sues city over sanctuary law",
        "The lawsuit says the sanctuary city policy, which bars jail staff from honoring ICE "
        "detainers, is illegal.\n\nThe mayor vowed to fight the suit.",
    ),
    Document(
        "Arrestan a inmigrante en la corte",
        "Agentes de ICE arrestaron a un hombre a la salida de la corte de inmigración.\n\n"
        "La ciudad santuario rechazó la detención y demandó al gobierno federal.",
    ),
    Document(
        "Sheriff signs 287(g) agreement",
        "The sheriff signed a 287(g) agreement with Immigration and Customs Enforcement, and "
        "commissioners voted to end it a week later.",
    ),
]


def _base_documents() -> list[Document]:
    docs = list(STORIES)
    if SEED.exists():
        docs.append(Document("", SEED.read_text(encoding="utf-8")))
    if DEV.exists():
        for line in DEV.read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            if item["labels"]:
                docs.append(Document(item["title"], item["text"]))
    return docs


BASE = _base_documents()
INLINE = ["b", "i", "em", "strong", "span", "a", "u", "mark", "small"]
SPACES = [" ", "  ", "\n", "\t", "&nbsp;", " \n ", "<br>", "&#160;", " <wbr>", "<span> </span>",
          "\u00a0", "\u2014", " \u2013 ", "\u2009", "</p><p>", ", "]  # fmt: skip
QUOTES = [("", ""), ("\u201c", "\u201d"), ("\u2018", "\u2019"), ("(", ")"), ("\u00ab", "\u00bb")]
# (encoding, <meta charset>): windows-1252 bytes are not UTF-8, and the matcher reads them as such
ENCODINGS = [("utf-8", "utf-8"), ("ascii", "utf-8"), ("cp1252", "windows-1252")]


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return load_matcher()


def recased(doc: Document, rng: random.Random) -> Document:
    """Change the case of some words (never of acronyms, whose case is the point)."""

    def change(text: str) -> str:
        words = text.split(" ")
        for i, word in enumerate(words):
            if not word.isupper() and rng.random() < 0.3:
                words[i] = rng.choice([word.lower(), word.title(), word.upper()])
        return " ".join(words)

    return Document(change(doc.title), change(doc.text))


def encoded_word(word: str, rng: random.Random) -> str:
    """A word with some characters as entities, perhaps split by an inline tag, perhaps in
    quotes (typographic ones, which are not letters: they must not glue to the word)."""
    opening, closing = rng.choice(QUOTES) if rng.randrange(4) == 0 else ("", "")
    return opening + _encoded(word, rng) + closing


def _encoded(word: str, rng: random.Random) -> str:
    pieces = []
    for ch in word:
        how = rng.randrange(10)
        if ch in '<>&"':
            pieces.append(html.escape(ch))
        elif how == 0:
            pieces.append(f"&#{ord(ch)};")
        elif how == 1:
            pieces.append(f"&#x{ord(ch):x};")
        else:
            pieces.append(ch)
    if len(pieces) > 1 and rng.randrange(4) == 0:
        cut = rng.randrange(1, len(pieces))
        tag = rng.choice(INLINE)
        attrs = ' class="hl"' if tag == "span" else (' href="/x"' if tag == "a" else "")
        return "".join(pieces[:cut]) + f"<{tag}{attrs}>" + "".join(pieces[cut:]) + f"</{tag}>"
    return "".join(pieces)


HEADS = [
    "<title>{t}</title>",
    '<meta property="og:title" content="{t}">',
    '<META NAME="title" CONTENT="{t}"><title>News</title>',
    '<script type="application/ld+json">{{"headline": "{t}"}}</script>',
]
NOISE = [
    "<script>var NOTICE='ICE'; if (a<b) {x()}</script>",
    "<style>.ice { border: 0 }</style>",
    "<!-- ad slot -->",
    "",
]


def rendered(doc: Document, rng: random.Random, with_title: bool = True) -> bytes:
    """The document as a page: random entities, tag-split words, breaks (typographic ones
    too), quotes, wrappers and encodings."""
    paragraphs = []
    for para in doc.text.split("\n\n"):
        words = [encoded_word(w, rng) for w in para.split()]
        body = "".join(w + rng.choice(SPACES) for w in words)
        tag = rng.choice(["p", "div", "section"])
        paragraphs.append(f"<{tag}>{body}</{tag}>")
    title = html.escape(doc.title) if with_title else ""
    head = rng.choice(HEADS).format(t=title) if with_title else "<title></title>"
    heading = f"<h1>{title}</h1>" if with_title else ""
    noise = rng.choice(NOISE)
    encoding, charset = rng.choice(ENCODINGS)
    page = (
        f"<!DOCTYPE html><html><head><meta charset='{charset}'>{head}{noise}</head><body>"
        f"<nav><a href='/'>Home</a></nav><article>{heading}{''.join(paragraphs)}"
        f"</article>{noise}<footer>© News</footer></body></html>"
    )
    return page.encode(encoding, "xmlcharrefreplace")


@st.composite
def generated_document(draw: st.DrawFn, matcher: Matcher) -> Document:
    """A story built from one rule's term groups, in three sentences and the title."""
    rule = draw(st.sampled_from(matcher.rules))
    forms = matcher.lexicon.forms

    def phrase() -> str:
        words = []
        for req in (*rule.require, *rule.context):
            group = draw(st.sampled_from(sorted(req)))
            tokens, exact = draw(st.sampled_from(sorted(forms[group], key=str)))
            words.append(exact or " ".join(tokens))
        return " and ".join(words)

    sentences = [f"Officials said {phrase()} on Monday." for _ in range(3)]
    return Document(phrase().capitalize(), "\n\n".join(sentences))


def _matches(matcher: Matcher, doc: Document, page: bytes) -> bool:
    if matcher.match(doc):
        return True
    extracted = extract_html(page)
    return isinstance(extracted, Extracted) and bool(
        matcher.match(Document(extracted.title or "", extracted.text))
    )


PROPERTY = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@PROPERTY
@given(base=st.sampled_from(BASE), seed=st.integers(0, 2**32), recase=st.booleans())
def test_prefilter_passes_every_rendered_matching_story(
    matcher: Matcher, base: Document, seed: int, recase: bool
) -> None:
    rng = random.Random(seed)
    doc = recased(base, rng) if recase else base
    page = rendered(doc, rng)
    assume(_matches(matcher, doc, page))
    result = matcher.prefilter.scan(page)
    assert result.passed, (result.reason, doc.title)


@PROPERTY
@given(data=st.data(), seed=st.integers(0, 2**32))
def test_prefilter_passes_every_generated_matching_story(
    matcher: Matcher, data: st.DataObject, seed: int
) -> None:
    doc = data.draw(generated_document(matcher))
    assume(matcher.match(doc))
    page = rendered(doc, random.Random(seed))
    result = matcher.prefilter.scan(page)
    assert result.passed, (result.reason, doc)


@pytest.mark.parametrize(
    "page",
    [
        b"<p>Immi<b>gration</b> agents detained him at the court<span>house</span>.</p>",
        b"<p>&#73;CE agents detained him at the courthouse.</p>",
        b"<h2>Latest</h2><p>I<span>CE</span> arrests at Queens courthouse</p>",
        b"<p>IMMIGRATION AGENTS DETAINED HIM AT THE COURTHOUSE</p>",
        b'<meta property="og:title" content="Sanctuary city sued">',
        b"<p>Detenido por agentes de inmigraci&oacute;n en la corte.</p>",
        "<p>ICE agents detained him at the courthouse.</p>".encode("utf-16"),
        # a word glued to the one before by a removed block tag ("NewsImmigration")
        b"<h2>News</h2>Immigration agents detained him at the court<b>house</b>.",
        # JSON-LD escapes, as a JSON parser reads them
        b'<script type="application/ld+json">{"headline": "Agentes de inmigraci\\u00f3n '
        b'detienen a un hombre\\nen la corte"}</script>',
        # an entity without its semicolon: to an HTML parser `&amp` then `Immigration`
        b"<p>&ampImmigration agents detained him at the courthouse.</p>",
        b"<p>Agentes de inmigraci&oacuten detuvieron a un hombre en la corte.</p>",
        # typographic punctuation is a break, never a letter glued to the word beside it
        "<p>Immigration\u00a0agents\u2014arrested him at the \u201ccourthouse\u201d.</p>".encode(),
        "<p>The immigration agent\u2019s team arrested him at the courthouse.</p>".encode(),
        "<p>Immigration agents arrested him at the courthouse\u2019s door.</p>".encode("cp1252"),
        "<p>Agentes de inmigración detuvieron a un hombre en la corte.</p>".encode("cp1252"),
        # UTF-8 with one stray byte is read both ways
        "<p>Immigration agents\u2019 arrested him at the courthouse.</p>".encode() + b"\xff",
        # tag names in any case
        b"<H2>News</H2><P>Immi<B>gration</B></P><P>agents detained him at the court<SPAN>"
        b"house</SPAN>.</P>",
        b"<p>Immi<sPaN>gration</SpAn></p><p>agents detained him at the courthouse.</p>",
    ],
)
def test_scan_sees_through_markup(matcher: Matcher, page: bytes) -> None:
    assert matcher.prefilter.scan(page).passed


def test_scan_skips_unrelated_pages_and_explains(matcher: Matcher) -> None:
    page = b"<html><title>Recipes</title><p>NOTICE: the PRICE of police ice cream rose.</p></html>"
    result = matcher.prefilter.scan(page)
    assert not result.passed
    assert result.reason.startswith("no rule has all its terms")
    assert "ICE" not in result.hits
    assert not matcher.prefilter.scan(b"").passed


def test_scan_looks_for_whole_words_not_substrings(matcher: Matcher) -> None:
    """ "migra" (la migra) is inside "immigration" and "migrant", "order" inside "border": as
    substrings they made most politics pages pass; the matcher only ever sees whole words."""
    page = b"<p>Migrant workers joined a migration study; police arrested a man at the courthouse."
    assert not matcher.prefilter.scan(page).passed
    assert matcher.prefilter.scan(page.replace(b"Migrant workers", b"La migra")).passed


def test_scan_looks_for_phrases_not_scattered_words(matcher: Matcher) -> None:
    """A term's words must stand together as the matcher needs them ("immigration agents"),
    not anywhere in the page: general news says "immigration" and "agents" apart all the time."""
    apart = (
        b"<p>The immigration debate went on.</p><p>Real estate agents arrested nothing.</p>"
        b"<p>He was detained at the courthouse.</p>"
    )
    together = b"<p>Immigration agents detained him at the courthouse.</p>"
    assert not matcher.prefilter.scan(apart).passed
    assert matcher.prefilter.scan(together).passed


@pytest.mark.parametrize(
    "page",
    [
        b"<p>ICE&rsquo;s agents detained him at the courthouse.</p>",  # possessive dropped
        b"<p>The agency's agents: immigration&nbsp;agents detained him at the courthouse.</p>",
        b"<p>Immigration</p><p>agents detained him at the courthouse.</p>",  # across blocks
        b"<h2>News</h2>Immi<b>gration</b> agents detained him at the court<i>house</i>.",
    ],
)
def test_phrases_survive_markup_between_their_words(matcher: Matcher, page: bytes) -> None:
    assert matcher.prefilter.scan(page).passed


def test_every_rule_has_something_to_look_for(matcher: Matcher) -> None:
    assert matcher.prefilter.unfiltered_rules == []
    assert "immigration" in matcher.prefilter.terms and "ICE" in matcher.prefilter.terms


def test_page_view_drops_scripts_and_styles_but_keeps_json_ld() -> None:
    page = (
        b"<script>var x = 'sanctuary';</script><style>.a{}</style>"
        b'<script type="application/ld+json">{"headline": "Detainer fight"}</script><p>Body</p>'
    )
    (view,) = page_views(page)
    assert b"sanctuary" not in view.joined
    assert b"Detainer fight" in view.joined and b"Body" in view.joined


def test_acronyms_are_whole_words_on_both_sides(matcher: Matcher) -> None:
    """The matcher's "ICE" is a token of its own: "ICESA" is not it (nor "NOTICE"), while a
    block tag after it is a break, as extraction renders it."""
    story = b"<p>She studied at %s College; agents arrested a man at the courthouse.</p>"
    assert matcher.prefilter.scan(story % b"ICE").passed
    for glued in (b"ICESA", b"I<b>CE</b>SA", b"NOTICE"):
        result = matcher.prefilter.scan(story % glued)
        assert not result.passed and "ICE" not in result.hits, glued
    assert matcher.prefilter.scan(story % b"ICE</p><p>SA").passed


def test_meta_tags_count_by_their_values_only(matcher: Matcher) -> None:
    """Extraction reads a <meta> tag's `content` (the title); its attribute names are not
    text ("name", "content" were words of every page)."""
    body = b"<p>He was arrested at the courthouse on Tuesday.</p>"
    named = b'<meta name="immigration agents" content="Weather">'
    valued = b'<meta name="description" content="Immigration agents">'
    assert not matcher.prefilter.scan(named + body).passed
    assert matcher.prefilter.scan(valued + body).passed


def test_every_letter_the_matcher_folds_to_ascii_is_folded() -> None:
    """The views fold by UTF-8 sequences listed once (up to U+3000): no letter beyond folds to
    ASCII, and every one listed spells as the matcher's fold does."""
    for code in range(0x80, 0x110000):
        if 0xD800 <= code < 0xE000:
            continue
        ch = chr(code)
        folded = fold.__wrapped__(ch)
        if folded.isascii() and folded.isalnum() and ch.isalnum():
            assert _SEQ_FOLD.get(ch.encode()) == char_bytes(ch), hex(code)
            assert char_bytes(ch).lower() == folded.encode(), hex(code)


def _corpus_pages() -> list[Path]:
    return sorted(CORPUS_PAGES.rglob("*.html.gz")) if CORPUS_PAGES.is_dir() else []


@pytest.mark.skipif(
    not _corpus_pages(), reason=f"shared corpus not found at {CORPUS_PAGES} (CI has it)"
)
def test_prefilter_passes_every_corpus_page_the_matcher_matches(
    matcher: Matcher, capsys: pytest.CaptureFixture[str]
) -> None:
    pages = _corpus_pages()
    passed = matched = 0
    dropped = []
    for path in pages:
        raw = gzip.decompress(path.read_bytes())
        verdict = matcher.prefilter.scan(raw).passed
        passed += verdict
        extracted = extract_html(raw)
        if not isinstance(extracted, Extracted):
            continue
        if matcher.match(Document(extracted.title or "", extracted.text)):
            matched += 1
            if not verdict:
                dropped.append(path.name)
    with capsys.disabled():
        print(
            f"\nprefilter: {passed}/{len(pages)} corpus pages pass "
            f"({passed / len(pages):.1%}); matcher matched {matched}"
        )
    assert dropped == []


def _rule_story(matcher: Matcher, rule_id: str, pick: int) -> Document:
    """A story built deterministically from one rule's groups (the `pick`-th form of each)."""
    rule = next(r for r in matcher.rules if r.id == rule_id)
    forms = matcher.lexicon.forms
    words = []
    for req in (*rule.require, *rule.context):
        group = sorted(req)[pick % len(req)]
        options = sorted(forms[group], key=str)
        tokens, exact = options[pick % len(options)]
        words.append(exact or " ".join(tokens))
    phrase = " and ".join(words)
    text = "\n\n".join(f"Officials said {phrase} on Monday." for _ in range(3))
    return Document(phrase.capitalize(), text)


def test_prefilter_passes_a_matching_story_for_every_rule_shape(matcher: Matcher) -> None:
    """Every rule (the event rules with four or five requirements, `unless` and `context`
    included), several term choices each: a story the matcher matches passes the prefilter."""
    matched: set[str] = set()
    for rule in matcher.rules:
        for pick in range(3):
            doc = _rule_story(matcher, rule.id, pick)
            if not matcher.match(doc):
                continue
            matched.add(rule.id)
            page = rendered(doc, random.Random(pick))
            result = matcher.prefilter.scan(page)
            assert result.passed, (rule.id, result.reason, doc.title)
    # the check means something only if most rule shapes produced a matching story
    assert len(matched) >= 0.8 * len(matcher.rules), sorted({r.id for r in matcher.rules} - matched)


def _with_title(title: str, page: bytes) -> bytes:
    """How the feed title used to be scanned: as the page's <title>, before it."""
    return b"<title>" + html.escape(title).encode("utf-8", "replace") + b"</title>" + page


@pytest.mark.skipif(
    not _corpus_pages(), reason=f"shared corpus not found at {CORPUS_PAGES} (CI has it)"
)
def test_feed_title_decides_as_the_title_in_the_page(matcher: Matcher) -> None:
    """`scan(page, title=…)` reads the title on its own (not the page twice) and decides as
    the page with the title prepended, for titles that complete a rule and titles that do not.
    (Only a term across the seam could differ; the matcher never joins title and text.)"""
    rules, pages = matcher.rules, _corpus_pages()
    by_title = 0
    for i, path in enumerate(pages):
        raw = gzip.decompress(path.read_bytes())
        story = _rule_story(matcher, rules[i % len(rules)].id, i)
        titles = ["Council approves new parking rules", story.title, story.title.split(" and ")[-1]]
        for title in titles:
            alone = matcher.prefilter.scan(raw, title=title).passed
            assert alone == matcher.prefilter.scan(_with_title(title, raw)).passed, (path, title)
            by_title += alone and not matcher.prefilter.scan(raw).passed
    assert by_title >= len(pages) // 2  # the titles that complete a rule make pages pass


@PROPERTY
@given(data=st.data(), seed=st.integers(0, 2**32))
def test_prefilter_passes_a_story_whose_title_only_the_feed_has(
    matcher: Matcher, data: st.DataObject, seed: int
) -> None:
    """The match stage falls back on the feed title when the page has none."""
    doc = data.draw(generated_document(matcher))
    assume(matcher.match(doc))
    page = rendered(doc, random.Random(seed), with_title=False)
    result = matcher.prefilter.scan(page, title=doc.title)
    assert result.passed, (result.reason, doc)
    assert matcher.prefilter.scan(_with_title(doc.title, page)).passed


def test_prefilter_page_scans_the_feed_title_with_the_page(
    matcher: Matcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workers, "_prefilter", matcher.prefilter)
    body = b"<html><body><p>The man was arrested at the courthouse on Tuesday.</p></body></html>"
    assert not workers.prefilter_page(body, None, keep_raw=False)["passed"]
    out = workers.prefilter_page(body, "Immigration agents detain man", keep_raw=False)
    assert out["passed"] and "immigration agents" in out["hits"]
