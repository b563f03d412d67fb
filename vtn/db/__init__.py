"""Persistence: tables, engine, unit of work and repositories."""
