"""Notifiers: telling people what is happening."""
