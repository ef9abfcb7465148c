"""Checks: probes of a service's health (HTTP, command, ...)."""
