"""REST request and response bodies that are not the domain's own shapes (schema names as in the FastAPI template)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.project_schemas import ProjectUpdate
from domain.quick_add import TEXT_MAX as QUICK_TEXT_MAX
from domain.schemas import ProjectRef, SubtaskChoice, TagList, TaskMove, TaskUpdate, TaskView
from domain.values import BULK_MAX, ID_MAX, Priority, Text


class VersionBody(BaseModel):
    """Optional body of an action: the version you last saw (409 if the task changed since)."""

    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(default=None, ge=1, le=ID_MAX)


SUBTASKS_HELP = "refuse (the default): a task with open subtasks is not completed (409); complete: they are too"


class CompleteBody(VersionBody):
    """Optional body of /complete: the version you last saw, and what happens to open subtasks."""

    subtasks: SubtaskChoice = Field(default="refuse", description=SUBTASKS_HELP)


class TaskPatch(TaskUpdate):
    """Fields to change; only those given change. `version` guards against lost updates."""

    version: int | None = Field(default=None, ge=1, le=ID_MAX)

    def changes(self) -> TaskUpdate:
        return TaskUpdate(**self.model_dump(exclude_unset=True, exclude={"version"}))


class TaskMoveBody(TaskMove):
    """Where to move a task with its subtasks: `project` (top-level there) and/or `parent_id` (into the parent's
    project); an explicit null `parent_id` makes it top-level. `version` guards against lost updates."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"project": "Shopping"}, {"parent_id": 42}, {"parent_id": None, "version": 3}]})

    version: int | None = Field(default=None, ge=1, le=ID_MAX)

    @model_validator(mode="after")
    def _somewhere(self) -> TaskMoveBody:
        if not self.model_fields_set & {"project", "parent_id"}:
            raise ValueError("must say where to: project (an id or a name) and/or parent_id (a task id; null: the "
                             "top level)")
        return self

    def changes(self) -> TaskMove:
        return TaskMove(**self.model_dump(exclude_unset=True, exclude={"version"}))


class ProjectPatch(ProjectUpdate):
    """A new name and/or colour (null clears it); only the fields given change. `version` guards against lost
    updates."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"name": "Groceries"}, {"colour": "#22c55e", "version": 2}]})

    version: int | None = Field(default=None, ge=1, le=ID_MAX)

    def changes(self) -> ProjectUpdate:
        return ProjectUpdate(**self.model_dump(exclude_unset=True, exclude={"version"}))


class TasksPublic(BaseModel):
    data: list[TaskView]
    count: int = Field(description="tasks matching the filters, counted up to 1,000 (see count_exact)")
    count_exact: bool = Field(description="false when more than `count` tasks match")
    next_cursor: str | None


class BulkRequest(BaseModel):
    """One action over up to 50 task ids, all-or-nothing."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["complete", "delete", "set_priority", "add_tags"]
    ids: list[Annotated[int, Field(ge=1, le=ID_MAX)]] = Field(min_length=1, max_length=BULK_MAX)
    priority: Priority | None = Field(default=None, description="for set_priority")
    tags: TagList | None = Field(default=None, description="for add_tags (at most 20)")
    subtasks: SubtaskChoice = Field(default="refuse", description=f"for complete: {SUBTASKS_HELP}")


class QuickAddText(BaseModel):
    """One line describing a task: title, due, priority, tags and recurrence (grammar in the README)."""

    model_config = ConfigDict(extra="forbid")

    text: Text = Field(max_length=QUICK_TEXT_MAX, examples=["buy stamps tomorrow at 9am p1 #errands every week"])


class QuickAdd(QuickAddText):
    """A line describing a task, and the project it goes to when the line names none with `#name`."""

    project: ProjectRef | None = Field(
        default=None, description="the project (id, or name in any case) when the text names none; default: the Inbox",
        examples=["Shopping"])


class TagRename(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text = Field(description="the new name; renaming onto an existing tag merges them")


class TagDeleted(BaseModel):
    name: str
    tasks: int = Field(description="how many tasks carried it")


class Register(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Text = Field(max_length=320, examples=["ada@example.com"])
    password: Text = Field(min_length=8, max_length=1024)
    timezone: Text = Field(default="UTC", examples=["Europe/Berlin"])


SessionMode = Annotated[Literal["token", "cookie"], Field(
    description='"token" (the default): the answer carries the refresh token. "cookie" (the web page): the refresh '
                "token goes into an HttpOnly cookie for /api/v1/auth and never into the answer; such requests, and "
                "refresh and logout with the cookie, must send the header X-Requested-With: todo-agent")]


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Text = Field(max_length=320)
    password: Text = Field(max_length=1024)
    session: SessionMode = "token"


class AccessToken(BaseModel):
    """A login answer: the access token for requests and the refresh token (one use) that renews it."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds")
    refresh_token: str = Field(description="send it to /api/v1/auth/refresh; each refresh returns a new one")
    refresh_expires_in: int = Field(description="seconds until the session ends and you must log in again")


class CookieAccessToken(BaseModel):
    """A login answer in cookie mode: the access token; the refresh token went into an HttpOnly cookie."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds")
    refresh_expires_in: int = Field(description="seconds until the session ends and you must log in again")


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(max_length=2048)


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: Text = Field(max_length=1024)
    new_password: Text = Field(min_length=8, max_length=1024)
    session: SessionMode = "token"


class SignOutEverywhere(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api_tokens: bool = Field(default=False, description="also revoke every personal API token")


class SignedOut(BaseModel):
    sessions: int = Field(description="login sessions ended")
    api_tokens: int = Field(description="personal API tokens revoked")


class MePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: Text = Field(examples=["America/New_York"])


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text = Field(default="", max_length=100)


class TokenCreated(BaseModel):
    """A new personal API token: `token` is shown this once and stored only hashed."""

    id: int
    name: str
    token: str


TaskId = Annotated[int, Path(ge=1, le=ID_MAX, description="the task id")]
ProjectId = Annotated[int, Path(ge=1, le=ID_MAX, description="the project id")]
TokenId = Annotated[int, Path(ge=1, le=ID_MAX, description="the token id")]
ConversationId = Annotated[int, Path(ge=1, le=ID_MAX, description="the conversation id")]
