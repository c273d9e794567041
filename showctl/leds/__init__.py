"""The LED matrix: cue programs on the scene's timeline, and the lines that show them."""
