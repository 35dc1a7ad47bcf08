"""Command palette provider: every action the current screen offers right now.

State-aware like Posting's: the screen's ``palette_commands()`` decides what is valid (no
requeue on a completed run, nothing that changes data in read-only mode), so the palette and
the footer never disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from textual.command import DiscoveryHit, Hit, Hits, Provider

Command = tuple[str, str, Callable[[], object]]


class HasCommands(Protocol):
    def palette_commands(self) -> Iterable[Command]: ...


class ParkbenchCommands(Provider):
    def _commands(self) -> list[Command]:
        screen = self.screen
        provider = getattr(screen, "palette_commands", None)
        return list(provider()) if callable(provider) else []

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
