"""The GPIO seam: output lines for the LED matrix (and, later, input lines), in domain words."""
