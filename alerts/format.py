"""Pure Slack message building: an AlertView in, a Block Kit payload (`text` + `blocks`) out.

Everything taken from a page is untrusted: it is escaped for Slack mrkdwn (`&`, `<`, `>`), its
formatting characters are swapped for look-alikes so they cannot open or break bold marks, and
only http(s) URLs become links. Every builder cuts its output to Slack's limits (≤50 blocks,
section text ≤3000, fields ≤2000, header ≤150, fallback text ≤4000), so long pages are cut,
never rejected.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

# The views live in alerts.views; callers may import them from here, as they always have.
from alerts.views import AlertView as AlertView
from alerts.views import HealthView as HealthView
from alerts.views import TopicScore as TopicScore

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_FIELD = 2000
MAX_HEADER = 150
MAX_TEXT = 4000
MAX_TITLE = 150
MAX_SNIPPET = 1200
MAX_URL = 2000
MAX_PAYLOAD = 30_000  # characters of JSON, far below Slack's message cap

# Slack has no escape for these, so untrusted text gets visually similar characters instead,
# wherever one could open or close formatting (not between two letters, as in remote_control).
_LOOKALIKE = {"*": "∗", "_": "ˍ", "~": "∼", "`": "ˋ"}
_FORMATTING = re.compile(r"(?<![^\W_])[*_~`]|[*_~`](?![^\W_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u2028\u2029]")
_SPACE = re.compile(r"\s+")
ENTITY_LABELS = (
    ("place", "Place"),
    ("court", "Court"),
    ("agency", "Agency"),
    ("official", "Officials"),
)
HEALTH_EMOJI = {
    "failing": ":rotating_light:",
    "blocked": ":no_entry:",
    "quiet": ":zzz:",
    "recovered": ":white_check_mark:",
}


# ---------------------------------------------------------------------------- text safety


def clean(text: str) -> str:
    """Collapse whitespace and drop control characters (untrusted text is one line)."""
    return _SPACE.sub(" ", _CONTROL.sub(" ", text)).strip()


def escape(text: str) -> str:
    """Escape text for mrkdwn: `&<>` become entities; `*_~`` ` that could format get look-alikes."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _FORMATTING.sub(lambda m: _LOOKALIKE[m.group()], escaped)


def cut(text: str, limit: int) -> str:
    """Cut plain text to `limit` characters, ending with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rstrip() + "…"


def safe_url(url: str | None) -> str | None:
    """The URL made safe inside `<url|text>`, or None if it is not http(s)."""
    if not url:
        return None
    url = clean(url)
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or len(url) > MAX_URL:
        return None
    url = quote(url, safe="/:?#[]@!$&'()*+,;=%~-._")  # encodes | < > space and non-ASCII
    return url.replace("&", "&amp;")


def link(url: str | None, text: str) -> str:
    """A mrkdwn link to an http(s) URL with escaped text, else just the escaped text."""
    target = safe_url(url)
    label = escape(text) or (target or "")
    return f"<{target}|{label}>" if target else label


def _cut_escaped(text: str, limit: int) -> str:
    """Cut already escaped mrkdwn without splitting an `&amp;`-style entity."""
    if len(text) <= limit:
        return text
    head = text[: max(limit - 1, 0)]
    amp = head.rfind("&")
    if amp != -1 and ";" not in head[amp:]:
        head = head[:amp]
    opening = head.rfind("<")
    if opening > head.rfind(">"):  # never leave a link half open
        head = head[:opening]
    return head.rstrip() + "…"


# ---------------------------------------------------------------------------- snippet


def _normal_marks(text: str, marks: Iterable[Sequence[int]]) -> list[tuple[int, int]]:
    from crawler.matching.describe import whole_marks  # "287(g)" is bolded whole

    length = len(text)
    good = [m for m in marks if len(m) >= 2]
    spans = sorted((max(0, a), min(length, b)) for a, b in whole_marks(text, good))
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def mark_snippet(snippet: str, marks: Iterable[Sequence[int]], limit: int = MAX_SNIPPET) -> str:
    """Escape a snippet and bold its marked spans, cut to about `limit` visible characters."""
    pieces: list[tuple[str, bool]] = []
    pos = 0
    for start, end in _normal_marks(snippet, marks):
        pieces.append((snippet[pos:start], False))
        pieces.append((snippet[start:end], True))
        pos = end
    pieces.append((snippet[pos:], False))
    out: list[str] = []
    budget = limit
    for raw, bold in pieces:
        text = _CONTROL.sub(" ", raw).replace("\n", " ")
        if not text:
            continue
        if budget <= 0:
            out.append("…")
            break
        truncated = len(text) > budget
        text = text[:budget]
        budget -= len(text)
        if bold and text.strip():
            lead = text[: len(text) - len(text.lstrip())]
            trail = text[len(text.rstrip()) :]
            out.append(f"{lead}*{escape(text.strip())}*{trail}")
        else:
            out.append(escape(text))
        if truncated:
            out.append("…")
            break
    return _SPACE.sub(" ", "".join(out)).strip()


# ---------------------------------------------------------------------------- blocks


def section(text: str) -> dict[str, Any]:
    """A mrkdwn section block, cut to Slack's 3000 characters."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut_escaped(text, MAX_SECTION)}}


def context(*texts: str) -> dict[str, Any]:
    """A context block of up to 10 mrkdwn elements."""
    elements = [{"type": "mrkdwn", "text": _cut_escaped(t, MAX_SECTION)} for t in texts if t][:10]
    return {"type": "context", "elements": elements}


def header(text: str) -> dict[str, Any]:
    """A plain-text header, cut to 150 characters (trusted text only)."""
    return {"type": "header", "text": {"type": "plain_text", "text": cut(clean(text), MAX_HEADER)}}


def fields_section(pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """A section with up to 10 `*label*\\nvalue` fields, each cut to 2000 characters."""
    fields = [
        {"type": "mrkdwn", "text": _cut_escaped(f"*{label}*\n{value}", MAX_FIELD)}
        for label, value in pairs[:10]
    ]
    return {"type": "section", "fields": fields}


def format_time(when: datetime | None) -> str:
    """A publication time for humans, in UTC."""
    return when.strftime("%a %d %b %Y %H:%M UTC") if when else "time unknown"


def fit(message: dict[str, Any]) -> dict[str, Any]:
    """Enforce the message limits as a last guard: blocks, fallback text and total size."""
    import json

    blocks = list(message.get("blocks") or [])[:MAX_BLOCKS]
    text = _cut_escaped(str(message.get("text") or ""), MAX_TEXT) or "newswatch alert"
    while len(blocks) > 1 and len(json.dumps(blocks, ensure_ascii=False)) > MAX_PAYLOAD:
        blocks.pop(-2 if len(blocks) > 2 else -1)
    return {**message, "text": text, "blocks": blocks}


def _headline(view: AlertView) -> str:
    return f"*{link(view.url, cut(clean(view.title) or view.url, MAX_TITLE))}*"


def _byline(view: AlertView) -> str:
    return f"{escape(clean(view.outlet))} · {format_time(view.published_at)}"


def _entity_fields(view: AlertView) -> list[tuple[str, str]]:
    pairs = []
    for key, label in ENTITY_LABELS:
        values = [escape(cut(clean(v), 200)) for v in view.entities.get(key, []) if clean(v)]
        if values:
            pairs.append((label, ", ".join(values[:15])))
    return pairs


def _context_line(view: AlertView) -> str:
    parts = [f"via {escape(clean(view.source_name or view.outlet))}"]
    host = urlsplit(view.url).hostname if safe_url(view.url) else None
    parts.append(link(view.url, host or view.url))
    if view.pack_version:
        parts.append(f"pack {escape(cut(view.pack_version, 80))}")
    return " · ".join(parts)


MAX_REASONS = 3


def _why(view: AlertView) -> str:
    """The first rules' descriptions, for people (ids stay in the stored payload and JSON)."""
    from crawler.matching.describe import readable

    reasons = view.reasons or [readable(r) for r in view.rules]
    reasons = [clean(r).rstrip(". ") for r in dict.fromkeys(reasons) if clean(r)]
    if not reasons:
        return ""
    text = "; ".join(reasons[:MAX_REASONS])
    if len(reasons) > MAX_REASONS:
        text += f"; and {len(reasons) - MAX_REASONS} more"
    return "*Why:* " + escape(cut(text + ".", 600))


def _score(score: float, threshold: float | None) -> str:
    if threshold is None:
        return f"{score:.2f}"
    return f"{score:.2f} (threshold {threshold:.2f})"


def _topic_fields(view: AlertView) -> list[tuple[str, str]]:
    """Topic and score for one topic; one "Topics" field listing each with its score for more."""
    topics = view.all_topics
    if len(topics) == 1:
        return [
            ("Topic", escape(clean(topics[0].label))),
            ("Score", _score(view.score, view.threshold)),
        ]
    lines = [f"• {escape(clean(t.label))} — {t.score:.2f}" for t in topics]
    return [(f"Topics ({len(topics)})", "\n".join(lines))]


def _labels(view: AlertView) -> str:
    return " · ".join(escape(clean(t.label)) for t in view.all_topics)


def _scored_labels(view: AlertView) -> str:
    return " · ".join(f"{escape(clean(t.label))} {t.score:.2f}" for t in view.all_topics)


def _fallback(view: AlertView, prefix: str = "") -> str:
    title = escape(cut(clean(view.title) or view.url, MAX_TITLE))
    label = _labels(view)
    return f"{prefix}[{label}] {title} — {escape(clean(view.outlet))} {safe_url(view.url) or ''}"


def build_alert_message(view: AlertView) -> dict[str, Any]:
    """The Block Kit message for a new match: headline, outlet, topic, snippet, entities."""
    blocks: list[dict[str, Any]] = [
        section(f"{_headline(view)}\n{_byline(view)}"),
        fields_section(_topic_fields(view)),
    ]
    if view.snippet.strip():
        blocks.append(section(mark_snippet(view.snippet, view.snippet_marks)))
    why = _why(view)
    if why:
        blocks.append(context(why))
    entities = _entity_fields(view)
    if entities:
        blocks.append(fields_section(entities))
    blocks.append(context(_context_line(view)))
    return fit({"text": _fallback(view), "blocks": blocks})


def build_follow_up_message(
    view: AlertView, *, parent: AlertView | None, threaded: bool
) -> dict[str, Any]:
    """A follow-up: a short thread reply, or without a thread a full alert 'Also reported by'."""
    same = parent is not None and parent.url == view.url
    updated = same and view.revision > 0
    known = {t.topic for t in parent.all_topics} if parent is not None else set()
    more = [t for t in view.all_topics if t.topic not in known] if same and not updated else []
    if updated:
        lead = f":pencil2: Updated: {_headline(view)}"
    elif more:
        labels = ", ".join(f"*{escape(clean(t.label))}* ({t.score:.2f})" for t in more)
        lead = f":label: Now also matches {labels}: {_headline(view)}"
    else:
        lead = f":newspaper: Also reported by *{escape(clean(view.outlet))}*: {_headline(view)}"
    if threaded:
        blocks = [section(f"{lead}\n{format_time(view.published_at)} · {_scored_labels(view)}")]
        if view.snippet.strip():
            blocks.append(section(mark_snippet(view.snippet, view.snippet_marks, limit=600)))
        blocks.append(context(_context_line(view)))
        reply = "Now also matches: " if more else "Also reported: "
        return fit({"text": _fallback(view, reply), "blocks": blocks})
    full = build_alert_message(view)
    intro = lead
    if parent is not None:
        intro += f"\nFirst alerted: {link(parent.url, cut(clean(parent.title), MAX_TITLE))}"
    prefix = "Updated: " if updated else f"Also reported by {escape(clean(view.outlet))}: "
    if more:
        prefix = "Now also matches: "
    return fit({"text": _fallback(view, prefix), "blocks": [section(intro), *full["blocks"][1:]]})


def build_digest_message(
    channel: str, views: Sequence[AlertView], *, cap: int | None = None
) -> dict[str, Any]:
    """One message listing the alerts folded after a channel's hourly cap was reached."""
    count = len(views)
    title = f"newswatch digest: {count} more alert{'s' if count != 1 else ''}"
    intro = f"Hourly cap of {cap} messages reached in " if cap else "Alerts folded in "
    blocks: list[dict[str, Any]] = [header(title), context(escape(intro + clean(channel)))]
    sections: list[list[str]] = [[]]
    shown = used = 0
    for view in views:
        line = (
            f"• {link(view.url, cut(clean(view.title) or view.url, MAX_TITLE))} — "
            f"{escape(clean(view.outlet))} ({_labels(view)})"
        )[: MAX_SECTION - 100]
        used += len(line) + 1
        if used > MAX_PAYLOAD // 2:
            break
        if sections[-1] and len("\n".join(sections[-1])) + 1 + len(line) > MAX_SECTION - 100:
            if len(sections) >= MAX_BLOCKS - 3:
                break
            sections.append([])
        sections[-1].append(line)
        shown += 1
    blocks.extend(section("\n".join(lines)) for lines in sections if lines)
    if shown < count:
        blocks.append(context(f"… and {count - shown} more: `newswatch alerts --status sent`"))
    text = f"{title} in {escape(clean(channel))} (hourly cap reached)"
    return fit({"text": text, "blocks": blocks})


def build_health_message(view: HealthView) -> dict[str, Any]:
    """A source-health message: which source, what state, and the last error."""
    emoji = HEALTH_EMOJI.get(view.state, ":information_source:")
    name = escape(clean(view.source))
    state = escape(clean(view.state))
    lead = f"{emoji} Source *{name}* is *{state}*"
    blocks: list[dict[str, Any]] = [section(f"{lead}\n{escape(cut(clean(view.message), 2500))}")]
    if view.url:
        blocks.append(context(link(view.url, view.url)))
    return fit(
        {
            "text": f"Source {name} is {state}: {escape(cut(clean(view.message), 500))}",
            "blocks": blocks,
        }
    )


# Buttons of an alert when Socket Mode is on (alerts.interactive handles the clicks).
FEEDBACK_BLOCK_ID = "newswatch_feedback"
FEEDBACK_ACTIONS = (
    ("relevant", "Relevant", "primary"),
    ("irrelevant", "Not relevant", "danger"),
    ("mute_source", "Mute source for 7 days", None),
)


def feedback_actions(match_ids: Sequence[int]) -> dict[str, Any]:
    """An actions block with the Relevant / Not relevant / Mute source buttons of a message
    (a label applies to every topic the message lists)."""
    value = "match:" + ",".join(str(i) for i in match_ids)
    elements = []
    for action, label, style in FEEDBACK_ACTIONS:
        button: dict[str, Any] = {
            "type": "button",
            "action_id": f"newswatch_{action}",
            "text": {"type": "plain_text", "text": label},
            "value": value,
        }
        if style:
            button["style"] = style
        elements.append(button)
    return {"type": "actions", "block_id": FEEDBACK_BLOCK_ID, "elements": elements}


def with_feedback(message: dict[str, Any], match_ids: Sequence[int]) -> dict[str, Any]:
    """The message with the feedback buttons as its last block (within the block limit)."""
    blocks = list(message.get("blocks") or [])[: MAX_BLOCKS - 1]
    return {**message, "blocks": [*blocks, feedback_actions(match_ids)]}


def labelled_blocks(blocks: Sequence[Mapping[str, Any]], note: str) -> list[dict[str, Any]]:
    """An alert's blocks with the buttons replaced by a note saying who labelled it."""
    kept = [dict(b) for b in blocks if b.get("block_id") != FEEDBACK_BLOCK_ID]
    return [*kept[: MAX_BLOCKS - 1], context(escape(cut(clean(note), 2000)))]
