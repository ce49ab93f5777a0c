"""Hostile specs: YAML bombs, secrets, paths and limits."""
