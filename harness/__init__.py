"""chatstorm: load-testing harness for conversational agents reached through Telegram.

Layers (data flows down, nothing imports upward; tests/integration/test_imports.py checks that no
two packages import each other, round about or not):
scenario -> locust / cli -> runtime -> conversation -> persona | transport | metrics
-> agent, report, llm, coord; leaf modules shared by all: clock, prices, records, files,
outages. Importing the engine or the scenario models loads no transport library.
"""
