"""The pydantic shapes of projects, as the use cases take and return them (REST and MCP speak them alike)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from domain.values import PROJECT_NAME_MAX, Text


class ProjectView(BaseModel):
    """A project as every surface shows it."""

    id: int
    name: str
    colour: str | None = Field(description="'#rrggbb', or null")
    is_inbox: bool = Field(description="the Inbox: always there, the default project, cannot be renamed, "
                           "archived or deleted")
    archived: bool
    archived_at: datetime | None
    open_count: int = Field(description="open tasks of the project (not in the trash)")
    created_at: datetime
    updated_at: datetime
    version: int


class ProjectCreate(BaseModel):
    """Fields of a new project."""

    model_config = ConfigDict(extra="forbid")

    name: Text = Field(max_length=PROJECT_NAME_MAX * 2, description="1..100 characters, unique (any case)")
    colour: Text | None = Field(default=None, description="'#rrggbb', e.g. '#3b82f6'")


class ProjectUpdate(BaseModel):
    """A partial project update: only the fields given change; an explicit null colour clears it."""

    model_config = ConfigDict(extra="forbid")

    name: Text | None = Field(default=None, max_length=PROJECT_NAME_MAX * 2)
    colour: Text | None = Field(default=None, description="'#rrggbb', or null to clear")


class ProjectDeletion(BaseModel):
    project: ProjectView = Field(description="the deleted project")
    moved: int = Field(description="tasks moved to the Inbox")
    trashed: int = Field(description="tasks moved to the trash")
