"""Can a crawl's pipeline start? Checked before anything is fetched (by `crawl` and the crawl
process itself): a topic pack that is missing or invalid, or a matcher that cannot load, would
otherwise fail every page and (before issue 17) mark them all as seen."""

from __future__ import annotations

from crawler.config import Settings
from crawler.errors import ConfigError, PipelineStartError


def check_pipeline(settings: Settings) -> None:
    """Load the topic matcher the crawl will use; PipelineStartError naming the cause if not."""
    from crawler.matching import load_matcher

    cfg = settings.matching
    try:
        load_matcher(cfg.topic_packs, cfg.thresholds, cfg.disabled_topics)
    except ConfigError as exc:
        raise PipelineStartError(str(exc)) from exc
    except Exception as exc:  # a pack the loader chokes on is still the config's fault
        cause = f"the topic matcher cannot load: {type(exc).__name__}: {exc}"
        raise PipelineStartError(cause) from exc
