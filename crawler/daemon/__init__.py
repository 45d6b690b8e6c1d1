"""The long-running side: scheduler, crawl runner, executors, source health, retention, lock."""
