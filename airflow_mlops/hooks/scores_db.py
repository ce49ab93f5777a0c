"""Hook module for scores_db (filled in by its stage)."""
