"""The HTTP door: webhooks, the REST API and operational endpoints, on FastAPI."""
