"""Block Kit building: escaping of untrusted page text, bold marks, and Slack's limits."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from slack_standin import block_problem

from alerts.format import (
    AlertView,
    HealthView,
    TopicScore,
    build_alert_message,
    build_digest_message,
    build_follow_up_message,
    build_health_message,
    escape,
    link,
    mark_snippet,
    safe_url,
)

INJECTION = "<!channel> <https://evil.example|click> & *bold* _it_ ~s~ `code`"


def view(**overrides: Any) -> AlertView:
    base: dict[str, Any] = {
        "title": "ICE agents arrest man at Denver courthouse",
        "url": "https://news.example.com/2025/01/ice-courthouse?a=1&b=2",
        "outlet": "Denver Daily",
        "topic": "courthouse_ice",
        "topic_label": "ICE arrests at courthouses",
        "score": 0.91,
        "threshold": 0.5,
        "published_at": datetime(2025, 1, 6, 9, 30, tzinfo=UTC),
        "snippet": "Agents from ICE detained a man outside the Denver County Court on Monday.",
        "snippet_marks": [(12, 15), (43, 62)],
        "entities": {
            "place": ["Denver"],
            "court": ["Denver County Court"],
            "agency": ["ICE"],
            "official": ["Judge Ann Smith"],
        },
        "rules": ["agency+courthouse", "arrest verb"],
        "pack_version": "courthouse-2025.1",
        "source_name": "denver-daily",
    }
    base.update(overrides)
    return AlertView(**base)


def all_text(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False)


def texts(message: dict[str, Any]) -> list[str]:
    out = [message["text"]]
    for block in message["blocks"]:
        if isinstance(block.get("text"), dict):
            out.append(block["text"]["text"])
        out += [f["text"] for f in block.get("fields") or []]
        out += [e["text"] for e in block.get("elements") or []]
    return out


def test_alert_message_has_every_part() -> None:
    message = build_alert_message(view())
    body = "\n".join(texts(message))
    assert "<https://news.example.com/2025/01/ice-courthouse?a=1&amp;b=2|ICE agents arrest" in body
    assert "Denver Daily · Mon 06 Jan 2025 09:30 UTC" in body
    assert "ICE arrests at courthouses" in body and "0.91 (threshold 0.50)" in body
    assert "*ICE*" in body and "*Denver County Court*" in body
    assert "Judge Ann Smith" in body and "*Officials*" in body and "*Court*" in body
    assert "Why:* agency+courthouse; arrest verb." in body and "pack courthouse-2025.1" in body
    assert "via denver-daily" in body
    assert message["text"].startswith("[ICE arrests at courthouses] ICE agents arrest")
    assert block_problem(message["blocks"]) is None


def test_injection_title_shows_literally_and_pings_nobody() -> None:
    message = build_alert_message(
        view(
            title=INJECTION,
            outlet=INJECTION,
            snippet=INJECTION,
            snippet_marks=[],
            entities={"place": [INJECTION]},
        )
    )
    for text in texts(message):
        assert "<!channel>" not in text and "<!" not in text
        assert "<https://evil" not in text
    body = all_text(message)
    assert "&lt;!channel&gt; &lt;https://evil.example|click&gt; &amp;" in body
    # formatting characters of page text cannot open bold/italic/strike/code
    assert (
        "*bold*" not in body and "_it_" not in body and "~s~" not in body and "`code`" not in body
    )


def test_escape_and_links() -> None:
    assert escape("a & b < c > d") == "a &amp; b &lt; c &gt; d"
    assert escape("*x* _y_ ~z~ `c` **") == "∗x∗ ˍyˍ ∼z∼ ˋcˋ ∗∗"
    assert escape("remote_control f*ck 2*3") == "remote_control f*ck 2*3"  # inert between letters
    assert safe_url("javascript:alert(1)") is None
    assert safe_url("ftp://x.example/") is None
    assert safe_url("https://x.example/a|b<c>d e") == "https://x.example/a%7Cb%3Cc%3Ed%20e"
    assert link("javascript:alert(1)", "<b>") == "&lt;b&gt;"
    assert link("https://x.example/?q=1&r=2", "T|x>") == "<https://x.example/?q=1&amp;r=2|T|x&gt;>"


def test_non_http_article_url_is_not_linked() -> None:
    message = build_alert_message(view(url="javascript:alert(document.cookie)"))
    assert all("<javascript:" not in t and "|" not in t for t in texts(message)[1:2])
    assert message["blocks"][0]["text"]["text"].startswith("*ICE agents arrest man")


def test_snippet_marks_bold_and_overlaps_merge() -> None:
    text = "ICE agents at the courthouse"
    assert mark_snippet(text, [(0, 3), (17, 28)]) == "*ICE* agents at the *courthouse*"
    # marks are widened to whole terms: Slack bolds only at word edges
    assert mark_snippet(text, [(0, 3), (1, 9)]) == "*ICE agents* at the courthouse"
    assert mark_snippet(text, [(-5, 3), (26, 99), (9, 9)]) == "*ICE* agents at the *courthouse*"
    assert mark_snippet("joins the 287(g) program", [(10, 14)]) == "joins the *287(g)* program"
    # a mark covering a space keeps the stars next to the words (Slack needs that)
    assert mark_snippet("a  ICE  b", [(1, 7)]) == "a *ICE* b"


def test_snippet_marked_text_is_escaped_inside_bold() -> None:
    out = mark_snippet("x <!here> *y* z", [(2, 9)])
    assert out == "x *&lt;!here&gt;* ∗y∗ z"


def test_huge_snippet_is_cut_not_rejected() -> None:
    snippet = ("ICE & courts <x> " * 1200)[:20_000]
    marks = [(i, i + 3) for i in range(0, 20_000, 17)]
    message = build_alert_message(view(snippet=snippet, snippet_marks=marks, title="T" * 5000))
    assert block_problem(message["blocks"]) is None
    assert len(json.dumps(message)) < 20_000
    assert len(message["text"]) <= 4000
    snippet_block = message["blocks"][2]["text"]["text"]
    assert snippet_block.endswith("…") and len(snippet_block) <= 3000
    assert "&am…" not in snippet_block  # never cuts inside an entity
    assert len(message["blocks"][0]["text"]["text"]) < 3000


def test_huge_entities_and_long_url_stay_in_limits() -> None:
    entities = {"place": [f"Place {i} " + "x" * 300 for i in range(500)]}
    message = build_alert_message(view(entities=entities, url="https://e.example/" + "a" * 5000))
    assert block_problem(message["blocks"]) is None


def test_follow_up_threaded_and_standalone() -> None:
    parent = view(title="First report", url="https://first.example/story")
    other = view(outlet="Other Times", url="https://other.example/story")
    threaded = build_follow_up_message(other, parent=parent, threaded=True)
    assert "Also reported by *Other Times*" in threaded["blocks"][0]["text"]["text"]
    standalone = build_follow_up_message(other, parent=parent, threaded=False)
    first = standalone["blocks"][0]["text"]["text"]
    assert first.startswith(":newspaper: Also reported by *Other Times*")
    assert "First alerted: <https://first.example/story|First report>" in first
    assert standalone["text"].startswith("Also reported by Other Times")
    updated = build_follow_up_message(view(revision=2), parent=view(), threaded=True)
    assert "Updated:" in updated["blocks"][0]["text"]["text"]
    for message in (threaded, standalone, updated):
        assert block_problem(message["blocks"]) is None


def test_digest_lists_headlines_and_is_cut() -> None:
    views = [view(title=f"Story {i} <b>", url=f"https://e.example/{i}") for i in range(400)]
    message = build_digest_message("#alerts", views, cap=20)
    assert message["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "newswatch digest: 400 more alerts"},
    }
    body = all_text(message)
    assert "<https://e.example/0|Story 0 &lt;b&gt;>" in body
    assert "more: `newswatch alerts --status sent`" in body
    assert block_problem(message["blocks"]) is None and len(message["blocks"]) <= 50
    assert len(json.dumps(message)) < 40_000
    small = build_digest_message("#alerts", views[:3], cap=20)
    assert "Story 2" in all_text(small) and "more:" not in all_text(small)


def test_health_message() -> None:
    message = build_health_message(
        HealthView(
            source="denver-daily",
            state="failing",
            message="403 <Forbidden> x3",
            url="https://denver.example/feed",
        )
    )
    first = message["blocks"][0]["text"]["text"]
    assert first.startswith(":rotating_light: Source *denver-daily* is *failing*")
    assert "403 &lt;Forbidden&gt; x3" in first
    assert block_problem(message["blocks"]) is None


def test_view_roundtrip() -> None:
    original = view()
    assert AlertView.from_dict(json.loads(json.dumps(original.to_dict()))) == original


@pytest.mark.parametrize("title", ["", "   ", "\x00\x07"])
def test_empty_title_falls_back_to_url(title: str) -> None:
    message = build_alert_message(view(title=title))
    assert (
        "|https://news.example.com/2025/01/ice-courthouse" in message["blocks"][0]["text"]["text"]
    )


def test_one_message_lists_every_topic_with_its_score() -> None:
    topics = [
        TopicScore("courthouse_ice", "ICE arrests at courthouses", 0.91, 0.5, ["r1"]),
        TopicScore("sanctuary", "Sanctuary *policy*", 0.64, 0.5, ["r2"]),
    ]
    message = build_alert_message(view(topics=topics))
    problem = block_problem(message["blocks"])
    assert problem is None, problem
    fields = [f["text"] for b in message["blocks"] for f in b.get("fields", [])]
    assert fields[0].startswith("*Topics (2)*")
    assert "ICE arrests at courthouses — 0.91" in fields[0]
    assert "Sanctuary ∗policy∗ — 0.64" in fields[0]  # page-side text stays escaped
    assert "ICE arrests at courthouses · Sanctuary ∗policy∗" in message["text"]
    single = build_alert_message(view())
    single_fields = [f["text"] for b in single["blocks"] for f in b.get("fields", [])]
    assert single_fields[:2] == [
        "*Topic*\nICE arrests at courthouses",
        "*Score*\n0.91 (threshold 0.50)",
    ]


def test_topic_found_later_follow_up_says_which() -> None:
    parent = view()
    later = view(
        topics=[
            TopicScore("courthouse_ice", "ICE arrests at courthouses", 0.91),
            TopicScore("sanctuary", "Sanctuary policy", 0.64),
        ]
    )
    reply = build_follow_up_message(later, parent=parent, threaded=True)
    lead = reply["blocks"][0]["text"]["text"]
    assert lead.startswith(":label: Now also matches *Sanctuary policy* (0.64)")
    assert "ICE arrests at courthouses 0.91 · Sanctuary policy 0.64" in lead
    assert reply["text"].startswith("Now also matches: ")


def test_view_roundtrip_keeps_topics() -> None:
    original = view(topics=[TopicScore("a", "A", 0.9, 0.5, ["x"]), TopicScore("b", "B", 0.6)])
    assert AlertView.from_dict(original.to_dict()) == original
    assert [t.topic for t in view().all_topics] == ["courthouse_ice"]


def test_why_lists_the_first_reasons_in_words() -> None:
    reasons = ["Agents at a court.", "An arrest nearby", "A detainer.", "A fourth reason."]
    body = all_text(build_alert_message(view(reasons=reasons, rules=["ca.x", "ca.y"])))
    assert "*Why:* Agents at a court; An arrest nearby; A detainer; and 1 more." in body
    assert "ca.x" not in body  # ids stay in the payload, not in the message
    assert "*Why:* x; y." in all_text(build_alert_message(view(rules=["ca.x", "ca.y"])))
