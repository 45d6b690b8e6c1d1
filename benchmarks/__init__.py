"""`make bench`: crawl throughput, matching speed, time to alert, storage at scale and daemon
memory, each against a baseline measured in the same run (`python -m benchmarks.run`)."""
