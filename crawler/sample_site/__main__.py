"""`python -m crawler.sample_site`: serve the sample news site until Ctrl-C."""

from __future__ import annotations

import argparse
import threading

from crawler.sample_site.server import SampleSite, serve_pair


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, start the site(s), print their URLs and wait for Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m crawler.sample_site", description="Serve the offline sample news site."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    parser.add_argument("--port", type=int, default=8765, help="port of the main site")
    parser.add_argument("--wire-port", type=int, default=None, help="also serve the wire site")
    parser.add_argument("--faults", action="store_true", help="enable the /faults/ routes")
    args = parser.parse_args(argv)

    sites: list[SampleSite]
    if args.wire_port is None:
        sites = [SampleSite(args.host, args.port, faults=args.faults).start()]
    else:
        main_site, wire_site = serve_pair(
            args.host, main_port=args.port, wire_port=args.wire_port, faults=args.faults
        )
        sites = [main_site, wire_site]
    for site in sites:
        print(f"{site.site:>4} site: {site.base_url}/  (feeds: {site.base_url}/feeds/rss.xml)")
    if args.faults:
        print(f"faults: {sites[0].base_url}/faults/feed.xml")
    print("Press Ctrl-C to stop.", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        for site in sites:
            site.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
