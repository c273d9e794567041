"""showctl: an installation show controller."""

__version__ = "0.1.0"
