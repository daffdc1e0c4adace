"""Observe: status, progress and gaps, answered from the warehouse (and, for gaps, the source)."""
