"""Rows of the paper broker's book (filled in by the paper-broker work)."""
