"""The expiry sweep: expired leases go back to the queue or park, as the spec says."""

from __future__ import annotations

import sqlalchemy as sa

from core import lifecycle
from core.lifecycle import Action, RunStatus
from core.models import runs
from core.records import (
    Recovered,
)
from core.store_base import (
    CLEAR_LEASE,
    SYSTEM,
    StoreBase,
)


class SweepOps(StoreBase):
    def recover_expired(self, *, now: int | None = None) -> Recovered:
        """The expiry sweep: each step a conditional UPDATE on leases still past *now*."""

        def body(conn: sa.Connection) -> Recovered:
            at = self.clock() if now is None else now
            claimed = runs.c.status == RunStatus.CLAIMED.value
            to = {
                action: lifecycle.target(SYSTEM, action, RunStatus.CLAIMED)
                for action in (Action.RUNTIME_PARK, Action.EXPIRE_RETRY, Action.EXPIRE_PARK)
            }
            over_runtime = conn.execute(
                runs.update()
                .where(claimed, runs.c.runtime_deadline.is_not(None), runs.c.runtime_deadline <= at)
                .values(
                    status=to[Action.RUNTIME_PARK].value,
                    block_reason="exceeded max runtime ("
                    # `//`: whole seconds on both backends (`/` is true division in SQLAlchemy
                    # 2, which printed "900.0" on SQLite and "900.0000000000000000" on PG)
                    + sa.cast(runs.c.max_runtime_ms // 1000, sa.Text)
                    + " s); the worker kept heartbeating past it",
                    blocked_at=at,
                    status_changed_at=at,
                    version=runs.c.version + 1,
                    **CLEAR_LEASE,
                )
                .returning(runs.c.id, runs.c.task_id, runs.c.block_reason)
            ).all()
            expired = sa.and_(claimed, runs.c.lease_until <= at)
            retried = conn.execute(
                runs.update()
                .where(expired, runs.c.attempt < runs.c.max_attempts)
                .values(
                    status=to[Action.EXPIRE_RETRY].value,
                    attempt=runs.c.attempt + 1,
                    worker=None,
                    failure_reason="lease expired: the worker stopped heartbeating",
                    queued_at=at,
                    status_changed_at=at,
                    version=runs.c.version + 1,
                    **CLEAR_LEASE,
                )
                .returning(runs.c.id, runs.c.task_id, runs.c.failure_reason)
            ).all()
            parked = conn.execute(
                runs.update()
                .where(expired, runs.c.attempt >= runs.c.max_attempts)
                .values(
                    status=to[Action.EXPIRE_PARK].value,
                    block_reason="lease expired on the last attempt ("
                    + sa.cast(runs.c.attempt, sa.Text)
                    + " of "
                    + sa.cast(runs.c.max_attempts, sa.Text)
                    + "); no attempts left to retry",
                    blocked_at=at,
                    status_changed_at=at,
                    version=runs.c.version + 1,
                    **CLEAR_LEASE,
                )
                .returning(runs.c.id, runs.c.task_id, runs.c.block_reason)
            ).all()
            for rows, action in (
                (over_runtime, Action.RUNTIME_PARK),
                (retried, Action.EXPIRE_RETRY),
                (parked, Action.EXPIRE_PARK),
            ):
                for row in rows:
                    self._event(
                        conn,
                        run_id=row[0],
                        task_id=row[1],
                        actor_kind=SYSTEM,
                        actor="sweeper",
                        action=action,
                        from_status=RunStatus.CLAIMED,
                        to_status=to[action],
                        now=at,
                        reason=row[2],
                    )
            return Recovered(
                requeued=tuple(r[0] for r in retried),
                parked=tuple(r[0] for r in parked),
                runtime_parked=tuple(r[0] for r in over_runtime),
            )

        recovered = self._write(body)
        self._last_sweep_ms = self.clock() if now is None else now
        return recovered
