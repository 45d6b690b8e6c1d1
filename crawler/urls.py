"""URL canonicalisation and fingerprints (pure functions)."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

# Query parameters that only track the reader: never part of an article's identity.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "_ga",
        "_gl",
        "ocid",
        "cmpid",
        "ref_src",
        "ref_url",
        "smid",
        "smtyp",
        "s_cid",
        "sr_share",
        "taid",
        "utm",
        "mkt_tok",
        "vero_id",
        "spm",
        "__twitter_impression",
        "at_medium",
        "at_campaign",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "at_", "oly_")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_MULTI_SLASH = re.compile(r"/{2,}")


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def canonicalize(url: str, base: str | None = None) -> str:
    """Canonical form: lower-case scheme/host, no default port, fragment or tracking params."""
    if base:
        url = urljoin(base, url)
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if parts.port and parts.port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{parts.port}"
    if ":" in (parts.hostname or "") and not host.startswith("["):  # IPv6 literal
        host = f"[{parts.hostname}]" + (f":{parts.port}" if parts.port else "")
    path = _MULTI_SLASH.sub("/", parts.path) or "/"
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)
    ]
    query.sort()
    return urlunsplit((scheme, host, path, urlencode(query, doseq=True), ""))


def fingerprint(url: str) -> str:
    """A short stable hash of a canonical URL (indexed for fast seen-checks)."""
    return hashlib.sha1(url.encode("utf-8"), usedforsecurity=False).hexdigest()[:16]


def host_of(url: str) -> str:
    """The lower-case host name of a URL, without port."""
    return (urlsplit(url).hostname or "").lower().rstrip(".")


def _site(host: str) -> str:
    return host.removeprefix("www.").removeprefix("m.").removeprefix("amp.")


def same_site(a: str, b: str) -> bool:
    """Whether two URLs belong to the same site (ignoring www./m./amp. and ports' absence)."""
    ha, hb = _site(host_of(a)), _site(host_of(b))
    if not ha or not hb:
        return False
    return ha == hb or ha.endswith("." + hb) or hb.endswith("." + ha)


def choose_canonical(fetched_url: str, declared: str | None) -> str:
    """The canonical URL: `<link rel=canonical>` when it is http(s) on the same site."""
    fetched = canonicalize(fetched_url)
    if not declared:
        return fetched
    candidate = urljoin(fetched_url, declared.strip())
    if urlsplit(candidate).scheme not in ("http", "https") or not same_site(candidate, fetched_url):
        return fetched
    return canonicalize(candidate)
