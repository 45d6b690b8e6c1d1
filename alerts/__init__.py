"""Alerts: Block Kit formatting, the outbox and the Slack dispatcher.

views.py       AlertView (one per article and channel, every topic), TopicScore, HealthView
format.py      pure: AlertView → Slack message (escaping, bold marks, limits)
outbox.py      enqueue_article_alerts / enqueue_health_alert, in the caller's transaction
claims.py      claiming due rows (SKIP LOCKED on PostgreSQL, one UPDATE on SQLite), leases
dispatcher.py  Dispatcher.run_once: send, retry, fail, fold into digests
slack.py       senders: SlackBotSender, WebhookSender, ConsoleSender; make_sender
check.py       check_slack for `newswatch slack test`
report.py      key=value log lines and DispatchStats
"""
