"""Alembic migrations of the VTN database (script location for `flexvpp db upgrade`)."""
