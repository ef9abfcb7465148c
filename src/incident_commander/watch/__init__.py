"""Watching services: the health-probe loop."""
