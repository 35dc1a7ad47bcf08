"""Fault injection and hostile input: crashes, bad environments, untrusted text.

A package (importable as ``faults`` because tests/ is on sys.path through its conftest) so
the crash lab can run in a spawned process and the strategies reused by other tests:
``from faults.strategies import hostile_text``.
"""
