"""Claims: each claim's spec (id, label, unit, short name, trend), how it is measured, how it is judged."""
