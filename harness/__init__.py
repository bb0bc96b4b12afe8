"""chatstorm: load-testing harness for conversational agents reached through Telegram.

Layers (data flows down, nothing imports upward):
scenario -> locust / cli -> conversation -> persona | transport | metrics -> agent, report.
"""
