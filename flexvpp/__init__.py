"""flexvpp: one command line over the four packages (vtn, ven, aggregator, flexmodel)."""

__version__ = "0.1.0"
