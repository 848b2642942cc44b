"""The embedded platform's tables (SQLAlchemy Core), as of schema version SCHEMA_VERSION.

Core rather than the ORM: a snapshot of 60,000 rows must load in well under a
second, and rows map straight onto frozen records. A change here raises
SCHEMA_VERSION and adds the in-place upgrade from the previous version to
:mod:`reconciler.platform.migrate`.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

# 1: the first release. 2: creation markers on authorizations and jobs.
from reconciler.platform.records import SCHEMA_VERSION  # noqa: E402,F401 - declared beside the records

metadata = MetaData()

meta = Table(
    "platform_meta", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

authorizations = Table(
    "authorizations", metadata,
    Column("id", String(32), primary_key=True),
    Column("provider", String(64), nullable=False),
    Column("method", String(64), nullable=False),
    Column("type", String(64)),  # the Lytics type slug, None for UI-only OAuth connections
    Column("label", String(255), nullable=False),
    Column("label_key", String(255), nullable=False, unique=True),  # casefolded: labels are unique
    Column("description", Text, nullable=False, default=""),
    Column("secret_blob", LargeBinary, nullable=False),  # Fernet({"config":..., "credentials":...})
    Column("owner", String(128), nullable=False),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("updated", DateTime(timezone=True), nullable=False),
    Column("health", String(16), nullable=False, default="unknown"),
    Column("health_reason", Text, nullable=False, default=""),
    Column("health_checked_at", DateTime(timezone=True)),
    Column("token_expires_at", DateTime(timezone=True)),
    Column("scopes", Text, nullable=False, default=""),  # space separated
    Column("marker", String(64)),  # who created it (crash recovery proves authorship); see MARKER_INDEXES
)

jobs = Table(
    "jobs", metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("workflow", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("config", Text, nullable=False, default="{}"),  # JSON; job config is not secret
    Column("owner", String(128), nullable=False),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("updated", DateTime(timezone=True), nullable=False),
    Column("marker", String(64)),
)

job_auths = Table(
    "job_auths", metadata,
    Column("job_id", String(32), ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    Column("auth_id", String(32), primary_key=True),
    Column("position", Integer, nullable=False, default=0),
    Index("ix_job_auths_auth", "auth_id"),
)

experiences = Table(
    "experiences", metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("status", String(16), nullable=False, default="imported"),
    Column("created", DateTime(timezone=True), nullable=False),
)

experience_auths = Table(
    "experience_auths", metadata,
    Column("experience_id", String(32), ForeignKey("experiences.id", ondelete="CASCADE"), primary_key=True),
    Column("auth_id", String(32), primary_key=True),
    Index("ix_experience_auths_auth", "auth_id"),
)

request_counts = Table(
    "request_counts", metadata,
    Column("auth_id", String(32), primary_key=True),
    Column("hour", DateTime(timezone=True), primary_key=True),  # bucket start, UTC
    Column("count", Integer, nullable=False),
)

# A non-null creation marker is unique (a unique index allows any number of NULLs on both
# SQLite and PostgreSQL); the index also makes finding an object by its marker one lookup.
MARKER_INDEXES = (
    Index("ux_authorizations_marker", authorizations.c.marker, unique=True),
    Index("ux_jobs_marker", jobs.c.marker, unique=True),
)
