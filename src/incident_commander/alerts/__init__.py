"""Alert intake: one parser per source, fingerprints, dedup, grouping and false positives."""
