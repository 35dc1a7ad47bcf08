"""The app's keys: the keymap applied by binding id, and the help screen built from it.

Mixed into :class:`parkbench.tui.app.ParkbenchApp` (like its settings). Every binding with
an id, on every class listed in :attr:`KeysAndHelp.BINDING_OWNERS`, can be remapped from
the keymap file (Posting's model); conflicts within the scopes that are live together are
reported once at start. The help lists the same bindings, with the keys in force and
whether each does anything right now.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.app import App
from textual.binding import Binding

from parkbench.tui.keymap import declared_bindings, keymap_conflicts, load_keymap
from parkbench.tui.screens.causes import CausesScreen
from parkbench.tui.screens.choice_modal import ChoiceModal
from parkbench.tui.screens.confirm_modal import ConfirmModal
from parkbench.tui.screens.file_viewer import FileViewer
from parkbench.tui.screens.help import HelpRow, HelpScreen
from parkbench.tui.screens.history import HistoryScreen
from parkbench.tui.screens.jump_modal import JumpModal
from parkbench.tui.screens.main import MainScreen
from parkbench.tui.screens.name_prompt import NamePrompt
from parkbench.tui.screens.reason_modal import ReasonModal
from parkbench.tui.textsafe import one_line
from parkbench.tui.widgets.filter_bar import FilterBar
from parkbench.tui.widgets.run_list import RunList


class KeysAndHelp:
    main: MainScreen
    database: str
    read_only: bool
    keymap_note: str
    applied_keymap: dict[str, str]
    _keymap_override: dict[str, str] | None
    screen: Any
    notify: Callable[..., None]
    set_keymap: Callable[[dict[str, str]], None]
    push_screen: Callable[..., Any]
    get_key_display: Callable[[Binding], str]

    #: (help section, class) for every class whose bindings the help screen lists.
    BINDING_OWNERS: tuple[tuple[str, type], ...] = (
        ("Review", MainScreen),
        ("Run list", RunList),
        ("App", App),
        ("Filter bar", FilterBar),
        ("Action modal", ReasonModal),
        ("Questions", ConfirmModal),
        ("Save filter", NamePrompt),
        ("Action history", HistoryScreen),
        # One section for the three (a heading each would not fit the help on 120x40).
        ("File viewer, pick one, jump to run", FileViewer),
        ("File viewer, pick one, jump to run", ChoiceModal),
        ("File viewer, pick one, jump to run", JumpModal),
        ("Help", HelpScreen),
        ("Causes", CausesScreen),
    )

    def _apply_keymap(self) -> None:
        known = declared_bindings(cls for _, cls in self._owners())
        if self._keymap_override is not None:
            self.keymap_note = "Keymap set by the caller."
            keymap, problems = dict(self._keymap_override), []
        else:
            loaded = load_keymap(known)
            self.keymap_note = f"Remap keys by id in {loaded.path} (or $PARKBENCH_KEYMAP)."
            keymap, problems = loaded.keymap, list(loaded.problems)
        problems += keymap_conflicts(
            known, {k: v for k, v in keymap.items() if k in known}, self._binding_scopes()
        )
        for problem in problems:
            self.notify(one_line(problem, 300), title="Keymap", severity="warning", markup=False)
        self.applied_keymap = keymap
        self.set_keymap(keymap)

    def binding_keys(self, binding_id: str) -> tuple[str, ...]:
        """The keys ``binding_id`` answers to, after the keymap."""
        declared = declared_bindings(cls for _, cls in self._owners()).get(binding_id)
        if declared is None:
            return ()
        keys = self.applied_keymap.get(binding_id, declared[1].key)
        return tuple(key.strip() for key in keys.split(",") if key.strip())

    def _binding_scopes(self) -> tuple[tuple[type, ...], ...]:
        """Owners whose bindings are live at the same time (focused widget, screen, app)."""
        app = type(self)
        return (
            (RunList, MainScreen, app),
            (FilterBar, MainScreen, app),
            (ReasonModal, app),
            (ConfirmModal, app),
            (NamePrompt, app),
            (HistoryScreen, app),
            (FileViewer, app),
            (ChoiceModal, app),
            (JumpModal, app),
            (HelpScreen, app),
            (CausesScreen, app),
        )

    def _owners(self) -> tuple[tuple[str, type], ...]:
        return tuple(
            (section, type(self) if owner is App else owner)
            for section, owner in self.BINDING_OWNERS
        )

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        note = self.keymap_note
        if self.database:
            note = f"Database: {self.database}{' (read-only)' if self.read_only else ''}. {note}"
        self.push_screen(HelpScreen(self.help_rows(), note))

    #: Review-screen bindings the help lists under "View" (the rest: under "Review").
    VIEW_BINDINGS = frozenset(
        {"filter", "filter-clear", "sort-cycle", "sort-reverse", "status-cycle", "filter-ready"}
    )

    def help_rows(self) -> list[HelpRow]:
        """Every binding with an id, its keys after the keymap, and whether it is live."""
        rows: list[HelpRow] = []
        seen: set[str] = set()
        for section, owner in self._owners():
            for binding_id, (_, binding) in declared_bindings([owner]).items():
                if binding_id in seen:
                    continue
                seen.add(binding_id)
                keys = self.applied_keymap.get(binding_id, binding.key)
                shown = " ".join(
                    binding.key_display
                    if binding.key_display and binding_id not in self.applied_keymap and i == 0
                    else self.get_key_display(Binding(key, ""))
                    for i, key in enumerate(keys.split(","))
                )
                rows.append(
                    HelpRow(
                        "View" if binding_id in self.VIEW_BINDINGS else section,
                        shown,
                        binding.description or binding.action,
                        binding_id,
                        self._binding_live(owner, binding.action),
                    )
                )
        order = list(dict.fromkeys(row.section for row in rows))
        return sorted(rows, key=lambda row: order.index(row.section))  # (a stable sort)

    def _binding_live(self, owner: type, action: str) -> bool:
        name = action.split("(", 1)[0]
        if owner is MainScreen:
            return self.main.check_action(name, ()) is True
        if owner is RunList and self.main.is_mounted:
            return self.main.runs.check_action(name, ()) is True
        return True
