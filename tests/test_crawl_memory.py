"""What keeps a crawl process small: components it does not need are not loaded, meta-refresh
redirects are found without decoding every page."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware
from scrapy.http import HtmlResponse, Request
from scrapy.settings import Settings
from scrapy.utils.conf import build_component_list
from scrapy.utils.test import get_crawler

from crawler import settings as crawl_settings
from crawler.middlewares import LeanMetaRefreshMiddleware

URL = "https://news.example/story"
REFRESH = '<html><head><meta http-equiv="refresh" content="0; url=/moved"></head></html>'
FILLER = b"<p>" + "Caf\u00e9 \u201cquotes\u201d and more words. ".encode() * 2000 + b"</p>"
PAGES = {
    "plain": b"<html><head><title>t</title></head><body>" + FILLER + b"</body></html>",
    "refresh": REFRESH.encode(),
    "upper": b'<HTML><HEAD><META HTTP-EQUIV="REFRESH" CONTENT="1;URL=/moved"></HEAD></HTML>',
    "slow refresh": b'<html><head><meta http-equiv="refresh" content="600"></head></html>',
    "word only": b"<html><body><p>Refresh your browser.</p>" + FILLER + b"</body></html>",
    "utf-16": REFRESH.encode("utf-16"),
    "late": b"<html><head>" + b" " * 20000 + b'<meta http-equiv="refresh" content="0;url=/x">',
}


def _settings() -> Settings:
    values = {k: getattr(crawl_settings, k) for k in dir(crawl_settings) if k.isupper()}
    return Settings(values)


def _outcome(result: Any) -> str:
    return result.url if isinstance(result, Request) else "kept"


@pytest.mark.parametrize("name", sorted(PAGES))
def test_lean_meta_refresh_decides_as_scrapy_does(name: str) -> None:
    crawler = get_crawler(settings_dict={"METAREFRESH_ENABLED": True})
    ours = LeanMetaRefreshMiddleware.from_crawler(crawler)
    theirs = MetaRefreshMiddleware.from_crawler(crawler)
    request = Request(URL)
    expected = theirs.process_response(request, HtmlResponse(URL, body=PAGES[name]))
    got = ours.process_response(request, HtmlResponse(URL, body=PAGES[name]))
    assert _outcome(got) == _outcome(expected)
    if name in ("refresh", "upper", "utf-16"):
        assert _outcome(got) == "https://news.example/moved"


def test_a_page_without_refresh_is_not_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    def decode(self: HtmlResponse) -> str:
        raise AssertionError("the whole body was decoded")

    monkeypatch.setattr(HtmlResponse, "text", property(decode))
    middleware = LeanMetaRefreshMiddleware.from_crawler(get_crawler())
    response = HtmlResponse(URL, body=PAGES["plain"], encoding="utf-8")
    assert middleware.process_response(Request(URL), response) is response


LOADS = """
import sys
from scrapy.utils.misc import load_object
from scrapy.utils.project import get_project_settings
from scrapy.utils.conf import build_component_list
settings = get_project_settings()
for name in ("EXTENSIONS", "DOWNLOADER_MIDDLEWARES", "SPIDER_MIDDLEWARES", "ITEM_PIPELINES"):
    for path in build_component_list(settings.get_component_priority_dict_with_base(name)):
        load_object(path)  # as Scrapy's component managers do
print(" ".join(m for m in ("aiohttp", "tldextract", "requests") if m in sys.modules))
"""


def test_a_crawl_imports_none_of_what_its_unused_components_need() -> None:
    env = {**os.environ, "SCRAPY_SETTINGS_MODULE": "crawler.settings"}
    done = subprocess.run(
        [sys.executable, "-c", LOADS], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == ""


def test_crawls_load_no_remote_control_server_cookies_or_scrapy_meta_refresh() -> None:
    settings = _settings()
    extensions = build_component_list(settings.get_component_priority_dict_with_base("EXTENSIONS"))
    middlewares = build_component_list(
        settings.get_component_priority_dict_with_base("DOWNLOADER_MIDDLEWARES")
    )
    assert not settings.getbool("REMOTE_CONTROL_ENABLED")
    assert not any("remote_control" in path or "telnet" in path for path in extensions)
    assert "scrapy.downloadermiddlewares.cookies.CookiesMiddleware" not in middlewares
    assert "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware" not in middlewares
    assert "crawler.middlewares.LeanMetaRefreshMiddleware" in middlewares
    assert "scrapy.downloadermiddlewares.redirect.RedirectMiddleware" in middlewares
