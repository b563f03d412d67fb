"""flexvpp: one command line over the four packages (vtn, ven, aggregator, flexmodel)."""

from importlib.metadata import version

# pyproject.toml's version, as installed; the product packages read it the same way.
__version__ = version("flexvpp")
