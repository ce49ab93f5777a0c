"""Hook module for feast (filled in by its stage)."""
