"""The private-address guard: a pure classifier, cached DNS, and a refused redirect in a crawl.

No test here connects anywhere but loopback: private and metadata addresses are only ever
classified as strings, and the redirect target is 127.0.0.2 (loopback, not allowed).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from test_spiders_support import crawl_once, prepare, source_toml
from twisted.internet.error import DNSLookupError

from crawler import middlewares
from crawler.errors import BlockedURL
from crawler.middlewares import GuardedResolver, check_url, is_public_address
from crawler.sample_site.server import SampleSite


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1",
        "10.255.255.255",
        "172.16.0.1",
        "172.31.255.254",
        "192.168.1.1",
        "169.254.169.254",
        "127.0.0.1",
        "127.0.0.2",
        "0.0.0.0",
        "100.64.0.1",
        "100.100.100.200",
        "224.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fd00::1",
        "fd00:ec2::254",
        "fc00::5",
        "::ffff:10.0.0.1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a00:1",
        "2002:a00:1::1",
        "::127.0.0.1",
        "fe80::1%eth0",
        "not-an-address",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "93.184.216.34",
        "2606:4700:4700::1111",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
        "172.32.0.1",
        "192.169.0.1",
    ],
)
def test_public_addresses_pass(address: str) -> None:
    assert is_public_address(address)


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/",
        "http://172.16.0.1:8080/x",
        "http://192.168.0.10/admin",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00::1]/",
        "http://[::1]:8000/",
        "http://[::ffff:10.0.0.1]/",
        "http://127.0.0.2:9/secret",
        "file:///etc/passwd",
        "gopher://127.0.0.1/",
        "http:///nohost",
        "http://127.0.0.1:99999/",
    ],
)
def test_check_url_refuses_without_connecting(url: str) -> None:
    with pytest.raises(BlockedURL):
        check_url(url, ["127.0.0.1"])


def test_allowed_private_hosts_pass_and_only_they() -> None:
    check_url("http://127.0.0.1:8000/feed", ["127.0.0.1"])
    check_url("http://[::1]:8000/feed", ["::1"])
    check_url("http://[::1]:8000/feed", ["[::1]"])
    with pytest.raises(BlockedURL, match=r"127\.0\.0\.2"):
        check_url("http://127.0.0.2:8000/feed", ["127.0.0.1"])


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """getaddrinfo answered from a table (no DNS traffic); returns the log of looked-up names."""
    table: dict[str, list[str]] = {
        "metadata.example": ["169.254.169.254"],
        "intranet.example": ["10.1.2.3"],
        "mixed.example": ["93.184.216.34", "192.168.0.7"],
        "public.example": ["93.184.216.34"],
    }
    calls: list[str] = []

    def getaddrinfo(host: str, *args: Any, **kwargs: Any) -> list[Any]:
        calls.append(host)
        if host not in table:
            raise socket.gaierror("no such host")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, 0)) for a in table[host]]

    monkeypatch.setattr(middlewares.socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(middlewares, "_dns_cache", {})
    return calls


def test_names_resolving_to_private_addresses_are_refused(fake_dns: list[str]) -> None:
    for host in ("metadata.example", "intranet.example", "mixed.example"):
        with pytest.raises(BlockedURL, match="resolves to"):
            check_url(f"https://{host}/news", [])
    check_url("https://public.example/news", [])
    check_url("https://intranet.example/news", ["intranet.example"])


def test_dns_answers_are_cached(fake_dns: list[str]) -> None:
    for _ in range(3):
        check_url("https://public.example/a", [])
    assert fake_dns.count("public.example") == 1


def test_the_resolver_refuses_a_private_answer_at_connect_time() -> None:
    resolver = GuardedResolver.__new__(GuardedResolver)
    resolver.crawler = None
    assert resolver.check_answer("93.184.216.34", "public.example") == "93.184.216.34"
    with pytest.raises(DNSLookupError, match="non-public"):
        resolver.check_answer("10.0.0.1", "rebound.example")


class _Recorder(BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        _Recorder.hits.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def site_and_trap() -> Iterator[tuple[SampleSite, list[str]]]:
    """The sample site with faults, and a listener on 127.0.0.2 at the same port."""
    with SampleSite(faults=True) as site:
        port = int(site.base_url.rsplit(":", 1)[1])
        _Recorder.hits = []
        try:
            trap = HTTPServer(("127.0.0.2", port), _Recorder)
        except OSError:
            yield site, []  # 127.0.0.2 not bindable here: the error kind still proves it
            return
        thread = threading.Thread(target=trap.serve_forever, daemon=True)
        thread.start()
        try:
            yield site, _Recorder.hits
        finally:
            trap.shutdown()
            trap.server_close()


@pytest.mark.slow
def test_a_redirect_to_loopback_is_refused_and_recorded(
    site_and_trap: tuple[SampleSite, list[str]], tmp_path: Path
) -> None:
    site, trap_hits = site_and_trap
    url = f"{site.base_url}/faults/loopback-redirect"
    job = crawl_once(prepare(tmp_path, "guard", source_toml("guard", "feed", [url])))
    run = job.last_run()
    assert run.errors == {"blocked": 1}, job.output[-3000:]
    sample = run.error_samples["blocked"][0]
    assert "127.0.0.2" in sample and "non-public" in sample
    assert trap_hits == []  # nothing was fetched from 127.0.0.2
    assert ("GET", "/faults/loopback-redirect") in [(m, p) for m, p, _ in site.requests]
