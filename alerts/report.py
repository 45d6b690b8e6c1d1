"""What the dispatcher reports: key=value log lines and the counts of a run."""

from __future__ import annotations

from dataclasses import dataclass, fields


def kv(event: str, **fields: object) -> str:
    """One log line: `event=… key=value …`, values with spaces quoted."""
    parts = [f"event={event}"]
    for key, value in fields.items():
        text = "" if value is None else str(value)
        if not text or any(c in text for c in ' "='):
            text = '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'
        parts.append(f"{key}={text}")
    return " ".join(parts)


@dataclass
class DispatchStats:
    """What one dispatch run did."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    deferred: int = 0
    folded: int = 0
    digests: int = 0
    reclaimed: int = 0

    @property
    def progressed(self) -> int:
        """Rows finished for good in this run (sent, failed or folded)."""
        return self.sent + self.failed + self.folded

    def add(self, other: DispatchStats) -> None:
        """Accumulate another run's counts."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_dict(self) -> dict[str, int]:
        """The counts by name."""
        return {f.name: getattr(self, f.name) for f in fields(self)}
