"""The one sentence `crawl` ends with when every source failed: how many, why, which hosts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from crawler.daemon.runner import RunOutcome
from crawler.sources import SourceConfig

# error kind or run status → (what happened, what to check); kinds come from spiders/base.py.
CAUSES: dict[str, tuple[str, str]] = {
    "dns": ("DNS lookups failed", "is this machine online, and are the host names right?"),
    "connection": ("connections failed", "is this machine online, and are the sites up?"),
    "timeout": ("requests timed out", "is the network slow, or a proxy in the way?"),
    "blocked": (
        "the URLs resolve to private addresses newswatch refuses",
        "set allow_private_hosts for intranet or test sources",
    ),
    "robots": ("robots.txt disallowed every URL", "ask the site or choose another feed"),
    "redirect": ("redirects looped or went too far", "check the sources' urls"),
    "http_403": ("the sites refused the crawler (HTTP 403)", "many sites block bots"),
    "http_404": ("the URLs were not found (HTTP 404)", "check the sources' urls"),
    "http_410": ("the URLs are gone (HTTP 410)", "check the sources' urls"),
    "http_429": (
        "the sites rate-limited the crawler (HTTP 429)",
        "raise crawl.download_delay",
    ),
    "http_4xx": ("the sites rejected the requests (HTTP 4xx)", "check the sources' urls"),
    "http_5xx": ("the sites answered with server errors (HTTP 5xx)", "try again later"),
    "too_large": ("the pages were larger than crawl.max_page_bytes", "raise it if they are real"),
    "timed_out": (
        "crawls ran past their timeout",
        "raise scheduler.crawl_timeout or pass --timeout",
    ),
    "crashed": (
        "crawl processes crashed",
        "the crawl log named in `newswatch status` says why",
    ),
    "killed": ("crawl processes were killed", "was the machine short of memory?"),
}


def _cause(outcome: RunOutcome) -> str:
    errors = outcome.summary.get("errors") or {}
    if isinstance(errors, Mapping) and errors:
        # On a tie the more basic cause wins (CAUSES lists DNS before connections before HTTP).
        order = {kind: i for i, kind in enumerate(CAUSES)}
        return str(max(errors.items(), key=lambda kv: (kv[1], -order.get(kv[0], 99)))[0])
    return outcome.status


def _host(outcome: RunOutcome, source: SourceConfig | None) -> str:
    for url in source.urls if source is not None else []:
        host = urlsplit(str(url)).hostname
        if host:
            return host
    return "?"


def all_failed_sentence(outcomes: Sequence[RunOutcome], sources: Sequence[SourceConfig]) -> str:
    """One sentence: how many sources failed, the commonest cause in words, the host of each."""
    by_name = {s.name: s for s in sources}
    causes = [_cause(o) for o in outcomes]
    common, count = Counter(causes).most_common(1)[0]
    what, check = CAUSES.get(common, (f"the crawls failed ({common})", "see `newswatch status`"))
    total = len(outcomes)
    hosts = "; ".join(
        f"{o.source}: {_host(o, by_name.get(o.source))}"
        + ("" if cause == common else f" ({cause})")
        for o, cause in zip(outcomes, causes, strict=True)
    )
    if total == 1:
        return f"the crawl of {outcomes[0].source} failed: {what} — {check} ({hosts})"
    share = f"for all {total} sources" if count == total else f"for {count} of the {total}"
    return f"every source failed: {what} {share} — {check} ({hosts})"
