"""Item pipeline stages, one per module, in this order:

canonicalize → dedup → prefilter → extract → match → cluster → store

Each stage is a thin Scrapy adapter around pure domain code; stages after a page has been
recorded as skipped or failed pass it straight on so the store stage still records it as seen.
"""
