"""Parkbench's lease core: runs, leases, receipts and their audit trail. No UI in here.

Where things are: :mod:`~parkbench.core.lifecycle` (the transition table), the value types
(:mod:`~parkbench.core.records`, :mod:`~parkbench.core.errors`), the rules on input
(:mod:`~parkbench.core.inputs`, :mod:`~parkbench.core.tokens`, :mod:`~parkbench.core.contracts`),
``store/`` (every state change and the keyset read side), ``db/`` (engine, URLs, schema and
migrations, dialect errors, change feeds), ``watch/`` (the receipt watcher) and ``demo/``.
"""
