"""Alerts: Block Kit formatting, the outbox and the Slack dispatcher."""
