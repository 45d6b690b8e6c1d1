"""The benchmark pages: the shared corpus of real news pages (or generated ones where it is
absent), an all-relevant variant of each page, and per-copy tokens so copies never dedup."""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass
from pathlib import Path

_BODY = re.compile(rb"<body[\s>]", re.IGNORECASE)
_PARA = re.compile(rb"<p[\s>]", re.IGNORECASE)
_TAG = re.compile(rb"<[^>]*>")
_SLUG = re.compile(r"[^a-z0-9]+")

# Injected into every page of the all-relevant corpus: a courthouse ICE arrest and a
# sanctuary dispute, written so both the prefilter and the full matcher fire.
RELEVANT_PARAGRAPHS = (
    "Federal immigration agents arrested a man at the Queens criminal courthouse on Tuesday "
    "as he walked out of a hearing on a misdemeanor charge, his lawyer said. Two ICE officers "
    "in plain clothes detained him in the hallway outside the courtroom and led him to an "
    "unmarked van, according to court officers who saw the courthouse arrest.",
    "Immigration and Customs Enforcement said the man had a final order of removal. Public "
    "defenders said the arrest at the courthouse would frighten witnesses and victims away "
    "from court, and the chief judge said the state's rules bar civil immigration arrests in "
    "courthouses without a judicial warrant.",
    "The mayor said the city would not honor the ICE detainer and that its sanctuary law "
    "forbids the police from sharing court dates with federal immigration authorities. The "
    "Justice Department threatened to cut federal funding to the sanctuary city and to sue "
    "over its refusal to cooperate with immigration detainers.",
)
RELEVANT_HTML = "".join(f"<p>{p}</p>\n" for p in RELEVANT_PARAGRAPHS).encode()


@dataclass(frozen=True)
class Page:
    """One base page: an id, the URL it was captured from (if known) and its raw bytes."""

    id: str
    url: str | None
    body: bytes

    @property
    def slug(self) -> str:
        """A URL-safe name for the page."""
        return _SLUG.sub("-", self.id.lower()).strip("-")[:60] or "page"


def default_corpus_dir() -> Path:
    """`<repo>/../shared/corpus`, where the developers' machines and CI keep the corpus."""
    return Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


def corpus_available(path: Path) -> bool:
    """Whether `path` holds a corpus (a manifest.jsonl)."""
    return (path / "manifest.jsonl").is_file()


def load_corpus(path: Path, limit: int | None = None) -> list[Page]:
    """The corpus pages listed in `manifest.jsonl`, in manifest order (first `limit`)."""
    pages: list[Page] = []
    with (path / "manifest.jsonl").open(encoding="utf-8") as manifest:
        for line in manifest:
            if not line.strip():
                continue
            entry = json.loads(line)
            raw = (path / entry["file"]).read_bytes()
            body = gzip.decompress(raw) if entry["file"].endswith(".gz") else raw
            pages.append(Page(str(entry["id"]), entry.get("url"), body))
            if limit is not None and len(pages) >= limit:
                break
    return pages


_GENERATED_TOPICS = (
    ("City council approves budget for new libraries", "budget libraries branch hours"),
    ("Storm brings black ice and school closures", "ice storm roads salt trucks"),
    ("Local team wins the hockey championship", "hockey ice rink playoff goal"),
    ("Cocoa futures hit a record on ICE", "ICE futures exchange traders cocoa"),
    ("Wildlife sanctuary expands wetlands", "sanctuary birds wetlands trail"),
)


def generated_pages(count: int) -> list[Page]:
    """Plain synthetic news pages (about 20 KB each) for when the shared corpus is absent."""
    pages = []
    for i in range(count):
        title, words = _GENERATED_TOPICS[i % len(_GENERATED_TOPICS)]
        paragraphs = "".join(
            f"<p>{title} — paragraph {j} of story {i}: {words} reported by staff, with "
            f"quotes from residents and officials about what happens next in the city.</p>\n"
            for j in range(60)
        )
        html = (
            f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title></head>"
            f"<body><nav><a href='/'>Home</a> <a href='/news'>News</a></nav>"
            f"<article><h1>{title}</h1><p class='byline'>By Staff</p>{paragraphs}</article>"
            f"<footer>© Generated Daily</footer></body></html>"
        )
        pages.append(Page(f"generated-{i:03d}", None, html.encode()))
    return pages


def inject_relevant(body: bytes) -> bytes:
    """The page with the courthouse-arrest paragraphs before its first real paragraph."""
    start = _BODY.search(body)
    offset = start.end() if start else 0
    at = -1
    for m in _PARA.finditer(body, offset):
        end = body.find(b"</p", m.end())
        inner = body[m.end() : end if end >= 0 else m.end() + 2000]
        if len(_TAG.sub(b"", inner).strip()) >= 150:
            at = m.start()
            break
    if at < 0:
        end = body.lower().rfind(b"</body")
        at = end if end >= 0 else len(body)
    return body[:at] + RELEVANT_HTML + body[at:]


def copy_token(index: int) -> bytes:
    """The per-copy marker appended to a page, so no two copies are byte-identical."""
    return f"\n<!-- newswatch-bench copy {index} -->\n".encode()
