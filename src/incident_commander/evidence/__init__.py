"""The evidence folder: one directory per incident, rendered from the store, hash-chained."""
