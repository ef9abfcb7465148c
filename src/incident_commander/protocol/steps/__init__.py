"""The protocol's steps, one module each, every one working on the kernel it is handed.

``declare`` (and deploy records), ``assess``, ``approve``, ``plan`` (with readiness),
``execute`` (and ``settle`` for an attempt whose owner died), ``validate``, ``resolve`` (close,
dismiss), ``review`` (the post-mortem, blame waivers) and ``follow_up`` (action items,
overdue reminders). None imports the facade (``protocol.engine``); the import-linter
contracts in ``pyproject.toml`` check it.
"""
