"""REST request and response bodies that are not the domain's own shapes (schema names as in the FastAPI template)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field

from domain.schemas import TaskCreate, TaskUpdate, TaskView
from domain.values import BULK_MAX, ID_MAX, Priority


class VersionBody(BaseModel):
    """Optional body of an action: the version you last saw (409 if the task changed since)."""

    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(default=None, ge=1, le=ID_MAX)


class TaskPatch(TaskUpdate):
    """Fields to change; only those given change. `version` guards against lost updates."""

    version: int | None = Field(default=None, ge=1, le=ID_MAX)

    def changes(self) -> TaskUpdate:
        return TaskUpdate(**self.model_dump(exclude_unset=True, exclude={"version"}))


TaskPublic = TaskView
TaskCreateBody = TaskCreate


class TasksPublic(BaseModel):
    data: list[TaskView]
    count: int
    next_cursor: str | None


class BulkRequest(BaseModel):
    """One action over up to 50 task ids, all-or-nothing."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["complete", "delete", "set_priority", "add_tags"]
    ids: list[Annotated[int, Field(ge=1, le=ID_MAX)]] = Field(min_length=1, max_length=BULK_MAX)
    priority: Priority | None = Field(default=None, description="for set_priority")
    tags: list[str] | None = Field(default=None, description="for add_tags")


class TagRename(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="the new name; renaming onto an existing tag merges them")


class TagDeleted(BaseModel):
    name: str
    tasks: int = Field(description="how many tasks carried it")


class Register(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=320, examples=["ada@example.com"])
    password: str = Field(min_length=8, max_length=1024)
    timezone: str = Field(default="UTC", examples=["Europe/Berlin"])


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)


class AccessToken(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds")


class MePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: str = Field(examples=["America/New_York"])


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", max_length=100)


class TokenCreated(BaseModel):
    """A new personal API token: `token` is shown this once and stored only hashed."""

    id: int
    name: str
    token: str


TaskId = Annotated[int, Path(ge=1, le=ID_MAX, description="the task id")]
TokenId = Annotated[int, Path(ge=1, le=ID_MAX, description="the token id")]
ConversationId = Annotated[int, Path(ge=1, le=ID_MAX, description="the conversation id")]
