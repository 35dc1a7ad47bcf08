"""Alembic environment: run programmatically by parkbench.core.db.schema with a live connection.

``target_metadata`` is the SQLModel models' metadata, so ``alembic revision --autogenerate``
(and ``alembic check``) compare the database with the models; a new revision starts from
what autogenerate writes, reviewed by hand (the NOTIFY trigger of 0003 is not metadata).
"""

from alembic import context

from parkbench.core.models import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
