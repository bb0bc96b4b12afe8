"""The reference agent: the system under test for demos and for testing the harness."""

from harness.agent.reference import BatchRecord, ReferenceAgent, reply_text

__all__ = ["BatchRecord", "ReferenceAgent", "reply_text"]
