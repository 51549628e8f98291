"""MemberHub core: the domain library (store, crypto, identity, loyalty, sync, plugin spec).

Nothing in ``core`` imports the web framework, the CLI or a scheduler.
"""
