"""Bodies for the `/faults/` routes: the broken, hostile and odd responses a crawler meets."""

from __future__ import annotations

import random
from datetime import datetime

from crawler.sample_site.content import Article
from crawler.sample_site.render import esc, rfc822

HUGE_BYTES = 50 * 1024 * 1024
CHUNK_BYTES = 64 * 1024
FAULT_PATHS = (
    "/faults/404",
    "/faults/500",
    "/faults/slow",
    "/faults/redirect-loop",
    "/faults/huge",
    "/faults/nolength-huge",
    "/faults/doc.pdf",
    "/faults/binary.html",
    "/faults/broken.html",
    "/faults/latin1.html",
    "/faults/empty.html",
    "/faults/malformed.xml",
    "/faults/loopback-redirect",
)

BROKEN_HTML = """<html><head><title>Agents detain man outside Nassau courthouse</title>
<meta charset=utf-8><body><div class="story"><<<< ]]> &bogus; &#xZZ;
<h1>Agents detain man outside Nassau County courthouse after traffic case
<p class=byline>By Ellen Sarkissian<span>
<p>MINEOLA, N.Y. - Federal immigration agents took a man into custody on the steps of the
Nassau County courthouse on Tuesday morning, minutes after a judge adjourned his traffic case,
according to his lawyer and two people who saw the arrest.
<p>The man, identified by his attorney as Rafael Quintanilla, 38, of Hempstead, had appeared for
a hearing on a charge of driving without a license. Three plainclothes officers from U.S.
Immigration and Customs Enforcement approached him as he walked toward the parking lot, his
lawyer, Corinne Abadi, said. "He came to court because he was told to," Ms. Abadi said.
"He did everything right, and ICE was waiting for him at the door."
<div><div><div><table><tr><td>ADVERTISEMENT<td>
<p>An ICE spokesperson said the agency had lodged a detainer with county officials weeks ago and
that Mr. Quintanilla had a final order of removal from 2016. Court officers did not intervene.
<p>Advocates have pressed state lawmakers to expand limits on civil immigration arrests at
courthouses, arguing that the arrests keep witnesses and victims away from court.
<script>var x = "</div></p>"; document.write("<p>unterminated
</td></tr><p>Mr. Quintanilla was being held Tuesday at a county jail in New Jersey.
"""

LATIN1_TEXT = """<!DOCTYPE html>
<html lang="en"><head>
<meta charset="windows-1252">
<title>Court officer’s tip led to arrest of José Peñafiel, lawyer says</title>
</head><body>
<article>
<h1>Court officer’s tip led to arrest of José Peñafiel, lawyer says</h1>
<p class="byline">By Inés Gutiérrez — Bronx Bureau</p>
<p>The lawyer for José Peñafiel, a 44-year-old cook from Mott Haven, said on Wednesday that a
court officer told immigration agents when her client’s case would be called, and that ICE
officers were “waiting in the hallway like they had an appointment.”</p>
<p>Mr. Peñafiel was taken into custody outside Part AP-3 of the Bronx Hall of Justice shortly
after a judge dismissed a misdemeanor trespass charge against him. His lawyer, Zoë Marchetti
of the Bronx Community Defense’s immigration unit, said the arrest “makes a mockery” of the city’s
sanctuary policies, which bar most cooperation with ICE detainers.</p>
<p>A spokesman for the state court system, Andrés Caño, said officers are “under clear
instructions” not to assist civil immigration enforcement and that the claim would be
reviewed. ICE did not respond to a request for comment.</p>
<p>“Nobody will come to court if court is where you disappear,” Ms. Marchetti said. “Not
witnesses, not victims, not anyone.”</p>
<p>Mr. Peñafiel’s wife, Señora Mónica Peñafiel, said the family had lived in the Bronx for
fifteen years. “He pays taxes, he goes to church, he goes to work,” she said. “Now he’s in a
jail in Orange County and we can’t even visit.”</p>
</article></body></html>
"""

MALFORMED_XML = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Broken & Co. News &nbsp; Feed</title>
<link>{base}/</link>
<item><title>First good link &mdash; still here</title><link>{first}</link>
<description>Unclosed <b>bold and a stray & ampersand</description>
<item><title>Second item <without closing</title>
<link>{second}</link><pubDate>not a date</pubDate>
<item><title>Third</title><link>{base}/faults/404</link>
</channel>
"""

PDF_BYTES = b"""%PDF-1.4
1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj
2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj
3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >> endobj
4 0 obj << /Length 58 >> stream
BT /F1 12 Tf 72 720 Td (Court calendar, Part AP-3, weekly) Tj ET
endstream endobj
trailer << /Root 1 0 R >>
%%EOF
"""


def broken_html() -> bytes:
    """Unclosed tags and garbage around a real article text."""
    return BROKEN_HTML.encode("utf-8") + b"\x00\x01 garbage \xff\xfe\x80 <div <p"


def latin1_html() -> bytes:
    """An article encoded in windows-1252 (smart quotes, accented names)."""
    return LATIN1_TEXT.encode("cp1252")


def binary_bytes(size: int = 64 * 1024) -> bytes:
    """Reproducible random bytes to serve as text/html."""
    return random.Random(1729).randbytes(size)


def huge_chunk() -> bytes:
    """One chunk of the 50 MB page: repeated filler paragraphs."""
    line = b"<p>filler filler filler filler filler filler filler filler filler filler.</p>\n"
    return (line * (CHUNK_BYTES // len(line) + 1))[:CHUNK_BYTES]


def malformed_xml(base_url: str, good: list[Article]) -> bytes:
    """An RSS feed with broken XML that still has two recoverable links."""
    first = good[0].url if good else base_url + "/"
    second = good[1].url if len(good) > 1 else first
    return MALFORMED_XML.format(base=base_url, first=first, second=second).encode("utf-8")


def fault_feed(base_url: str, good: list[Article], *, now: datetime) -> str:
    """RSS feed linking to every fault route plus two good articles."""
    links = [(f"Fault: {path.rsplit('/', 1)[1]}", base_url + path) for path in FAULT_PATHS]
    links += [(a.title, a.url) for a in good[:2]]
    items = "".join(
        f"  <item><title>{esc(title)}</title><link>{esc(url)}</link>"
        f'<guid isPermaLink="true">{esc(url)}</guid><pubDate>{rfc822(now)}</pubDate></item>\n'
        for title, url in links
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel>
  <title>Fault injection feed</title>
  <link>{esc(base_url)}/faults/feed.xml</link>
  <description>Links to every misbehaving route plus two good articles</description>
{items}</channel></rss>
"""
