"""An offline sample news site (main outlet + wire outlet) for testing the newswatch crawler.

Start it with `SampleSite().start()` or `serve_pair()` in tests, or from a shell with
`python -m crawler.sample_site --port 8765 --wire-port 8766`.
"""

from crawler.sample_site.content import Article, ArticleError, load_specs
from crawler.sample_site.server import SampleSite, serve_pair

__all__ = ["Article", "ArticleError", "SampleSite", "load_specs", "serve_pair"]
