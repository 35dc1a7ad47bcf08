"""Parkbench's user interfaces: the Textual review app and the ``parkbench`` command line.

Kept import-free on purpose: ``parkbench.tui.cli`` runs in tight worker loops and must not pay for
Textual (or anything else heavy) unless the command it runs needs it.
"""
