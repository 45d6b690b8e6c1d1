"""newswatch: watch the news for courthouse ICE arrests and sanctuary-policy disputes."""

__version__ = "0.1.0"
