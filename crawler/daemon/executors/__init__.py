"""Where crawls run: `local` (this process' warm crawl processes) or `celery` (worker machines)."""
