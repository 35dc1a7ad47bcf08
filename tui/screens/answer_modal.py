"""The multi-line prompts: a requeue's answer to the agent, and a note on a run.

Both take several lines (a TextArea: Enter is a new line, a multi-line paste keeps its
lines) and send with ctrl+s, as every prompt does; Escape cancels. The text is checked
here with the core's own rules (:mod:`parkbench.core.inputs`) so a refusal shows in the
prompt, not after it closed. A requeue's prompt may also change the new attempt's priority.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Static, TextArea

from parkbench.core.errors import ValidationError
from parkbench.core.inputs import priority as checked_priority
from parkbench.tui.screens.reason_modal import ReasonModal, Reply


class AnswerModal(ReasonModal):
    """Dismisses with a :class:`Reply` (ctrl+s) or None (Escape)."""

    HINT = "ctrl+s sends · Enter: new line · Tab: next field · Escape cancels"

    def __init__(
        self,
        title: str,
        targets: Text,
        *,
        label: str,
        placeholder: str,
        check: Callable[[str], str],
        priority: int | None = None,
        with_priority: bool = False,
    ) -> None:
        super().__init__(title, targets, placeholder=placeholder)
        self.label = label
        self.check = check
        self.current_priority = priority
        self.with_priority = with_priority

    def compose(self) -> ComposeResult:
        with Vertical(id="reason-dialog", classes="-multiline"):
            yield Static(Text(self.title_text), markup=False, id="reason-title")
            yield Static(self.targets, markup=False, id="reason-targets")
            yield Static(Text(self.label), markup=False, id="reason-label")
            yield TextArea(
                id="reason-text",
                soft_wrap=True,
                tab_behavior="focus",
                placeholder=self.placeholder,
            )
            if self.with_priority:
                with Horizontal(id="reason-priority-row"):
                    yield Static(
                        Text("Priority of the new attempt (blank: keep): "),
                        markup=False,
                        id="reason-priority-label",
                    )
                    yield Input(
                        value="" if self.current_priority is None else str(self.current_priority),
                        placeholder="keep",
                        type="integer",
                        id="reason-priority",
                    )
            yield Static("", markup=False, id="reason-error")
            hint = self.HINT if self.with_priority else self.HINT.replace(" · Tab: next field", "")
            yield Static(Text(hint), markup=False, id="reason-hint")

    def focus_field(self) -> None:
        field = self.query_one("#reason-text", TextArea)
        if self.app.is_headless:
            field.cursor_blink = False
            for other in self.query(Input):
                other.cursor_blink = False
        field.focus()

    def text_value(self) -> str:
        return self.query_one("#reason-text", TextArea).text

    @on(Input.Submitted, "#reason-priority")
    def _priority_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_send()

    def action_send(self) -> None:
        # The core's check refuses a blank text too, in its own words ("note is required").
        reply = self.reply(self.text_value())
        if reply is not None:
            self.dismiss(reply)

    def reply(self, text: str) -> Reply | None:
        try:
            checked = self.check(text)
            priority = self._priority()
        except ValidationError as error:
            self.show_error(error.message)
            return None
        return Reply(checked, priority)

    def _priority(self) -> int | None:
        """The priority asked for, None when blank or unchanged."""
        if not self.with_priority:
            return None
        raw = self.query_one("#reason-priority", Input).value.strip()
        if not raw or raw in ("-", "+"):
            return None
        try:
            value = checked_priority(int(raw))
        except ValueError:
            raise ValidationError(f"priority must be a whole number, got {raw!r}") from None
        return None if value == self.current_priority else value
