"""The scenarios of ``bench/faults.py``, one module per kind of fault."""
