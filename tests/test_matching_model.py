"""The matcher's result values serialise to plain JSON-safe data."""

from __future__ import annotations

import json
from dataclasses import asdict

from crawler.matching import Document, load_matcher
from crawler.matching.model import TopicResult

DOC = Document(
    "ICE agents arrest man at Queens courthouse",
    "Immigration agents arrested a man at Queens Criminal Court on Monday after his hearing.\n\n"
    "The sheriff refused to honor ICE detainers, and the county sued over its 287(g) program.",
)


def test_to_dict_is_asdict_with_lists_and_round_trips() -> None:
    results = load_matcher().match(DOC)
    assert results
    for result in results:
        expected = asdict(result)
        expected["snippet_marks"] = [list(m) for m in result.snippet_marks]
        data = result.to_dict()
        assert data == expected
        assert json.loads(json.dumps(data)) == data
        data["spans"][0]["text"] = "changed"  # a copy: the result itself is untouched
        assert result.spans[0].text != "changed"
        assert TopicResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result
