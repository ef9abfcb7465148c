"""Executors: the things that change the world (roll back a release, run a script, ...)."""
