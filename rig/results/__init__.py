"""Results: the record schema, crash-safe writing, checked reading, and loading for pandas."""
