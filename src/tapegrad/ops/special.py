"""special ops (being filled in)."""
