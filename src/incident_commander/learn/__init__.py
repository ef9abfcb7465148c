"""Learning from every incident: runbooks generated for the stack, decision memos, status checks.

Below the doors and above the protocol: it reads the configuration, the store and the evidence,
and asks the engine facade for gate results; it never imports a door (``cli``, ``web``).
"""
