"""showctl: an installation show controller."""
