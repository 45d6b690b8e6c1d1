"""Scrapy spiders: one per kind of source (feed, news sitemap, section pages, search feeds)."""
