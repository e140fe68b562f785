"""Ops Lens engine: the snapshot store, ingest, demo data, charts, export and the command line."""

__version__ = "0.1.0"
