"""Readers of agents' own files: transcripts, status files, databases → evidence events.

Each watcher is incremental (byte offsets, row times), skips and counts what it does not
understand, and never raises out of a scan: a bad file costs that file, not the collector.
"""
