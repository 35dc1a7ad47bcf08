"""Reviewer actions: requeue, fail and release parked (or stuck) runs, one or many.

A bulk action goes a batch at a time (:data:`BATCH` runs), each batch ONE transaction of
set-based statements (:class:`parkbench.core.store.review_batch.Batch`): a run the batch's
fence did not match gets its own failed result; it never aborts the others, and a batch
never half-applies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial

import sqlalchemy as sa

from parkbench.core import inputs
from parkbench.core.errors import ParkbenchError, ValidationError
from parkbench.core.lifecycle import REVIEWER_ACTIONS, Action, ActorKind, sources
from parkbench.core.records import ActionResult, Expectation
from parkbench.core.store.base import HUMAN, StoreBase, default_actor
from parkbench.core.store.review_batch import Batch

#: Runs per transaction: what one batch reads, fences and writes (bounded statements, and
#: memory that stays flat however many runs an action names).
BATCH = 500


class ReviewOps(StoreBase):
    def requeue(
        self,
        run_ids: Sequence[int],
        *,
        reason: str,
        actor: str | None = None,
        expected: Mapping[int, Expectation] | None = None,
        priority: int | None = None,
    ) -> list[ActionResult]:
        return self.review(
            Action.REQUEUE,
            run_ids,
            reason=reason,
            actor=actor,
            expected=expected,
            priority=priority,
        )

    def force_fail(
        self,
        run_ids: Sequence[int],
        *,
        reason: str,
        actor: str | None = None,
        expected: Mapping[int, Expectation] | None = None,
        force: bool = False,
    ) -> list[ActionResult]:
        return self.review(
            Action.FAIL, run_ids, reason=reason, actor=actor, expected=expected, force=force
        )

    def force_release(
        self,
        run_ids: Sequence[int],
        *,
        reason: str,
        actor: str | None = None,
        expected: Mapping[int, Expectation] | None = None,
        force: bool = False,
    ) -> list[ActionResult]:
        return self.review(
            Action.RELEASE, run_ids, reason=reason, actor=actor, expected=expected, force=force
        )

    def review(
        self,
        action: Action,
        run_ids: Sequence[int],
        *,
        reason: str,
        actor: str | None = None,
        expected: Mapping[int, Expectation] | None = None,
        actor_kind: ActorKind = HUMAN,
        force: bool = False,
        priority: int | None = None,
    ) -> list[ActionResult]:
        """Apply a reviewer action to each run; one result per run, in order, de-duplicated.

        ``priority`` (requeue only): the new attempt's priority instead of the source's (the
        events record both).

        A bad run (gone, wrong state, changed since the reviewer looked) yields a failed
        result and never aborts the others. A claimed run whose lease is still live belongs
        to a worker that may be alive: failing or releasing it is refused unless ``force``
        (and the event then says it was forced); an expired lease may be taken without it.
        Runs are written :data:`BATCH` at a time, each batch in one transaction.
        """
        # Only the reviewer moves: review() must never become a token-free way to claim,
        # complete or sweep a run.
        if (
            action not in REVIEWER_ACTIONS
            or actor_kind is ActorKind.WORKER
            or not sources(actor_kind, action)
        ):
            raise ValidationError(f"{action.value} is not a reviewer action")
        why = inputs.reason(reason)
        who = inputs.name("actor", actor or default_actor())
        if priority is not None:
            if action is not Action.REQUEUE:
                raise ValidationError(
                    f"a priority applies to a requeue's new attempt, not to {action.value}",
                    hint=f"drop --priority, or requeue instead of {action.value}",
                )
            inputs.priority(priority)
        unique = list(dict.fromkeys(run_ids))  # de-duplicated, order kept
        results: list[ActionResult] = []
        for lo in range(0, len(unique), BATCH):
            batch = Batch(
                action,
                unique[lo : lo + BATCH],
                expected or {},
                why,
                who,
                actor_kind,
                force,
                priority,
            )
            try:
                results += self._write(partial(self._apply, batch))
            except ParkbenchError as error:
                if error.code == "database":
                    raise
                # The batch was rolled back as a whole: each of its runs says why.
                results += [ActionResult(run_id, ok=False, error=error) for run_id in batch.ids]
        return results

    def _apply(self, batch: Batch, conn: sa.Connection) -> list[ActionResult]:
        return batch.apply(conn, self.clock())
