"""Judging what the agent says: termination conditions checked after every reply,
evaluations per turn and of the whole conversation, the outcome, and the verdict.

Offline judges (keywords, regex, word-Jaccard, counting, flow heuristics) are exact and
cost microseconds; they run on the loop between turns, never inside a measured interval.
"""
