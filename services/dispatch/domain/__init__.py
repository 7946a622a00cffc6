"""Dispatch rules, pure: grid units, nearest-unit ranking, the Alert aggregate, statistics."""
