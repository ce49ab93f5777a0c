"""Operators: they orchestrate; hooks do the I/O. Import the stage modules directly."""
