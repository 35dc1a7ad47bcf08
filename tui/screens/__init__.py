"""Screens: the main review screen, the action and confirmation modals, help."""
