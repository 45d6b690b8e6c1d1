"""Scrapy settings for newswatch crawls: every component is wired here, nowhere else.

Values that users tune live in newswatch.toml (`[crawl]`); `crawler.runtime.apply_config`
copies them onto these defaults when a crawl starts.
"""

from scrapy.settings import default_settings

BOT_NAME = "newswatch"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"

# A page yields one item (a feed, only requests): Scrapy's default of 100 parallel item tasks
# per response leaves ~4000 idle asyncio tasks waiting with the responses in flight.
CONCURRENT_ITEMS = 4
# Responses waiting for the pipeline (Scrapy stops scheduling requests beyond this). The worker
# takes one page at a time; 2 MB is ~10 average pages queued ahead of it, where Scrapy's 5 MB
# held ~10 MB more bodies in flight at no gain in pages per second.
SCRAPER_SLOT_MAX_ACTIVE_SIZE = 2_000_000

# Politeness: robots.txt, a descriptive User-Agent (set from config), AutoThrottle, caps.
ROBOTSTXT_OBEY = True
USER_AGENT = "newswatch/0.1 (+https://github.com/newswatch/newswatch)"
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 4
DOWNLOAD_DELAY = 0.0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.5
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 4.0
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 5_000_000
DOWNLOAD_WARNSIZE = 0
RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
REDIRECT_MAX_TIMES = 5
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
DNS_TIMEOUT = 15
LOG_LEVEL = "INFO"
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
FEED_EXPORT_ENCODING = "utf-8"

# Check the address each connection really uses (closes the DNS-rebinding gap; see middlewares).
TWISTED_DNS_RESOLVER = "crawler.middlewares.GuardedResolver"

DOWNLOADER_MIDDLEWARES = {
    # Refuse private/loopback/metadata addresses (and redirects to them) unless allowed.
    "crawler.middlewares.NetworkGuardMiddleware": 50,
    # Conditional requests for feeds and sitemaps (If-None-Match / If-Modified-Since).
    "crawler.middlewares.ConditionalRequestMiddleware": 560,
    # Meta-refresh redirects without decoding every page (in place of Scrapy's, see below).
    "crawler.middlewares.LeanMetaRefreshMiddleware": 580,
}

EXTENSIONS = {
    "crawler.runtime.RunRecorder": 100,
}

# Scrapy's own components a crawl does not use are left out of its defaults (`*_BASE`): turned
# off by setting alone, they would still be imported. Scrapy 2.19 starts an HTTP server in every
# crawl that runs the Python code posted to it (token in the user's profile folder): not wanted
# here, nor aiohttp's ~8 MB for it. Cookies are off, and their middleware pulls in tldextract and
# requests (~3 MB); the telnet console is off too. Scrapy's meta-refresh middleware decodes every
# page whole (and keeps the text) to look for a refresh: ours (crawler.middlewares) replaces it.
REMOTE_CONTROL_ENABLED = False
_left_out = {
    "scrapy.extensions.remote_control.RemoteControl",
    "scrapy.extensions.telnet.TelnetConsole",
    "scrapy.downloadermiddlewares.cookies.CookiesMiddleware",
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware",
}
EXTENSIONS_BASE = {k: v for k, v in default_settings.EXTENSIONS_BASE.items() if k not in _left_out}
DOWNLOADER_MIDDLEWARES_BASE = {
    k: v for k, v in default_settings.DOWNLOADER_MIDDLEWARES_BASE.items() if k not in _left_out
}

# The pipeline, one stage per module; each stage passes the item on or drops it.
ITEM_PIPELINES = {
    "crawler.pipelines.canonicalize.CanonicalizePipeline": 100,
    "crawler.pipelines.dedup.DedupPipeline": 200,
    "crawler.pipelines.prefilter.PrefilterPipeline": 300,
    "crawler.pipelines.pagekind.PageKindPipeline": 350,
    "crawler.pipelines.extract.ExtractPipeline": 400,
    "crawler.pipelines.match.MatchPipeline": 500,
    "crawler.pipelines.cluster.ClusterPipeline": 600,
    "crawler.pipelines.store.StorePipeline": 900,
}
