"""The LED matrix: the lines it scans (:mod:`.matrix`), the programs it shows (:mod:`.programs`),
the level meter driven by a clip (:mod:`.meter`) and a terminal view of it (:mod:`.view`)."""
