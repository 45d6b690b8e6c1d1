"""The benchmark harness runs end to end on tiny sizes, so `make bench` cannot rot.

No timing assertions: only that every part produced its figures. Without the shared corpus
the harness falls back to generated pages (and says so), so this test still runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"

pytestmark = pytest.mark.slow


def _positive(data: dict[str, Any], *path: str) -> float:
    node: Any = data
    for key in path:
        assert isinstance(node, dict) and key in node, f"missing {'.'.join(path)} in {node!r}"
        node = node[key]
    assert isinstance(node, int | float) and node > 0, f"{'.'.join(path)} = {node!r}"
    return float(node)


def test_quick_bench_writes_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.run",
            "--quick",
            "--only",
            "crawl,matching,storage",
            "--output",
            str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "newswatch benchmarks" in result.stdout
    data = json.loads(out.read_text(encoding="utf-8"))
    assert set(data) >= {"meta", "stages", "crawl", "matching", "storage", "targets"}
    assert data["meta"]["mode"] == "quick"
    assert data["meta"]["corpus"]["generated"] is not (CORPUS / "manifest.jsonl").is_file()

    for corpus in ("real", "relevant"):
        for crawler in ("newswatch", "naive"):
            _positive(data, "crawl", corpus, crawler, "pages_per_s")
            _positive(data, "crawl", corpus, crawler, "cpu_ms_per_page")
            _positive(data, "crawl", corpus, crawler, "peak_rss_mb")
        _positive(data, "crawl", corpus, "ratio_vs_naive")
        stages = data["crawl"][corpus]["newswatch"]["stage_cpu_ms_per_page"]
        assert {"prefilter", "store", "fetch_parse_framework_rest"} <= set(stages)
    _positive(data, "crawl", "real", "fetch_only", "pages_per_s")
    _positive(data, "crawl", "real", "ratio_vs_fetch_only")
    # Every page of the all-relevant corpus passes the prefilter.
    assert data["crawl"]["relevant"]["newswatch"]["statuses"].get("skipped_prefilter", 0) == 0

    _positive(data, "matching", "matcher", "docs_per_s")
    _positive(data, "matching", "prefilter_real", "ms_per_page")
    assert data["matching"]["prefilter_relevant"]["pass_rate"] == 1.0

    sqlite = data["storage"]["sqlite"]
    assert sqlite["rows"] == data["storage"]["urls"] == 2000
    for key in ("bulk_insert_rows_per_s", "seen_batched_per_s", "seen_single_per_s"):
        _positive(data, "storage", "sqlite", key)
    _positive(data, "storage", "sqlite", "orm_inserts_per_s")
    postgres = data["storage"]["postgresql"]
    assert "skipped" in postgres or postgres.get("seen_batched_per_s", 0) > 0, postgres

    names = {t["name"] for t in data["targets"]}
    assert "crawl throughput (real corpus) vs naive baseline" in names
    assert all(t["passed"] in (True, False, None) for t in data["targets"])


def test_quick_scale_bench_reports_every_mode(tmp_path: Path) -> None:
    """`--only scale` on tiny sizes: the local modes always, the celery one where it can run."""
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick", "--only", "scale",
         "--output", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    data = json.loads(out.read_text(encoding="utf-8"))
    modes = data["scale"]["modes"]
    for name in ("local", "per_crawl"):
        _positive(data, "scale", "modes", name, "polls")
        _positive(data, "scale", "modes", name, "cpu_per_poll_s")
    assert "celery_1" in modes or data["scale"].get("celery_skipped")
    assert "sources/core@15min" in result.stdout
