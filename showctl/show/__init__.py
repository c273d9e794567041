"""The show file: its model (:mod:`.model`), loading and checks (:mod:`.loader`), and its
schema (:mod:`.schema`)."""
