"""The ``ic`` command line: parses options, calls the engine, renders its answer."""
