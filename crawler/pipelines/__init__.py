"""Item pipeline stages, one per module, in this order:

canonicalize → dedup → prefilter → page kind → extract → match → cluster → store

Each stage is a thin Scrapy adapter around pure domain code; stages after a page has been
recorded as skipped, not an article or failed pass it straight on so the store stage still
records it. A failure on our side (worker died or timed out, matcher error, any exception in a
stage) is `failed_internal`: stored with the reason and an attempt count, and NOT seen, so a
later crawl fetches and processes it again (see crawler.pipelines.base).
"""
