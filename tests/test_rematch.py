"""`newswatch rematch`: the current rules over stored articles, without refetching."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select

from crawler.cli import main
from crawler.storage import repo
from crawler.storage.db import Database
from crawler.storage.models import Alert, Article, Match
from crawler.urls import fingerprint

STORY = (
    "Federal immigration agents arrested a man inside the Queens Criminal Court on Tuesday "
    "moments after a judge dismissed the charge against him, his lawyer said. Two ICE officers "
    "in plain clothes handcuffed him in the hallway outside the courtroom. Advocates said the "
    "arrest would frighten witnesses and victims away from the courthouse. "
)


def add(session: object, url: str, **fields: object) -> Article:
    article = Article(url=url, url_hash=fingerprint(url), fetched_url=url, **fields)
    session.add(article)  # type: ignore[attr-defined]
    session.flush()  # type: ignore[attr-defined]
    return article


def test_rematch_finds_new_matches_without_alerting(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "r.db"}"\n')
    db = Database(f"sqlite:///{tmp_path / 'r.db'}")
    page = (
        "<html><head><title>Arrest at court</title></head>"
        f"<body><article><p>{STORY * 3}</p></article></body></html>"
    )
    with db.session() as session:
        add(
            session,
            "https://x.org/text",
            status="extracted",
            title="Arrest at court",
            text=STORY * 3,
        )
        skipped = add(session, "https://x.org/raw", status="skipped_prefilter")
        repo.add_raw_page(session, skipped, page.encode(), "utf-8", "text/html")
        add(
            session,
            "https://x.org/other",
            status="extracted",
            title="Budget",
            text="The county budget " * 40,
        )
    result = CliRunner().invoke(main, ["--config", str(config), "rematch"])
    assert result.exit_code == 0, result.output
    assert "2 new matches" in result.output and "0 alerts queued" in result.output
    with db.session() as session:
        matched = set(session.scalars(select(Article.url).join(Match)))
        assert matched == {"https://x.org/text", "https://x.org/raw"}
        assert session.scalar(select(func.count()).select_from(Alert)) == 0
        raw_article = session.scalar(select(Article).where(Article.url == "https://x.org/raw"))
        assert raw_article is not None and raw_article.status == "extracted"
    # Running again adds nothing: matches are unique per article and topic.
    again = CliRunner().invoke(main, ["--config", str(config), "rematch"])
    assert "0 new matches" in again.output
    db.dispose()
