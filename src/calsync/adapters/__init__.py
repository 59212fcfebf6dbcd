"""Adapters: the boundary between calsync's pure core and real calendars (sources and targets)."""
