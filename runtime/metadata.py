"""Imports every module that defines tables so the one SQLModel metadata (and Alembic) sees them all."""

from sqlmodel import SQLModel

import agent.store  # noqa: F401
import domain.models  # noqa: F401
import services.tables  # noqa: F401

metadata = SQLModel.metadata
