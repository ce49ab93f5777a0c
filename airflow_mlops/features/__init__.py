"""Feature stages: work on feature data that the Feast hook's store describes (e.g. point-in-time retrieval)."""
