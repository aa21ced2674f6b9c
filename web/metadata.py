"""Imports every module that defines tables so the one SQLModel metadata (and Alembic) sees them all."""

from sqlmodel import SQLModel

import domain.models  # noqa: F401

metadata = SQLModel.metadata
