"""Incident records: what matched articles say about one arrest or dispute, and linking them."""

from crawler.incidents.extract import extract_record
from crawler.incidents.link import LinkDecision, LinkSettings, decide
from crawler.incidents.model import FieldValue, IncidentRecord, IncidentState

__all__ = [
    "FieldValue",
    "IncidentRecord",
    "IncidentState",
    "LinkDecision",
    "LinkSettings",
    "decide",
    "extract_record",
]
