"""The checks of a scenario that no single field shows (evals/scenarios/FORMAT.md): duplicate keys, references to
keys that do not exist, the reference's length, and the seeded projects and the tasks placed in them. Scenario's
validator runs them (evals.scenario)."""

from __future__ import annotations

import yaml

from evals.scenario import SEED_REFERENCE, Scenario, SeedProject, SeedTask, TurnText

INBOX = "inbox"  # the project every user has (names compare case-insensitively)


def cross_problems(s: Scenario) -> list[str]:
    """What no single field shows: duplicate keys, references to keys that do not exist, the reference's length."""
    problems = []
    for group in ("seed", "others", "projects", "others_projects"):
        keys = [t.key for t in getattr(s, group) if t.key]
        if len(keys) != len(set(keys)):
            problems.append(f"{group}: duplicate key in {keys}")
    problems += project_problems(s, "seed", s.projects) + project_problems(s, "others", s.others_projects)
    if len(s.reference) != len(s.turns):
        problems.append(f"reference has {len(s.reference)} turn(s) of steps but turns has {len(s.turns)}: give one "
                        "list of model steps per turn (an empty list [] where the model is not called)")
    for where, match in [(f"expect.tasks[{i}]", m) for i, m in enumerate(s.expect.tasks)]:
        if match.key is not None and match.key not in s.keys("seed"):
            problems.append(f"{where}.key: {match.key!r} is not a seed key (seed keys: {sorted(s.keys('seed'))})")
        if match.parent is not None and match.parent not in s.keys("seed"):
            problems.append(f"{where}.parent: {match.parent!r} is not a seed key (seed keys: "
                            f"{sorted(s.keys('seed'))}); a parent the agent made is named by parent_title")
        if match.key is None and match.title is None:
            problems.append(f"{where}: give `key` (a seed task) or `title` (found case-insensitively)")
    texts = [*s.expect.reply_contains, *s.expect.reply_forbids]
    for text in texts:
        if isinstance(text, TurnText) and text.turn > len(s.turns):
            problems.append(f"expect: reply phrase for turn {text.turn}, but there are {len(s.turns)} turns")
    for group, key in SEED_REFERENCE.findall(yaml.safe_dump(s.model_dump(mode="json", include={"reference",
                                                                                              "expect"}))):
        if key not in s.keys(group):
            what = f"project of {group}" if group.endswith("projects") else f"{group} task"
            problems.append(f"{{{{{group}.{key}}}}} names no {what} (keys: {sorted(s.keys(group))})")
    return problems


def project_problems(s: Scenario, group: str, projects: list[SeedProject]) -> list[str]:
    """A group's projects and the seed tasks placed in them: names unique (the Inbox is implicit), a task's
    project seeded, its parent an earlier task of the group, a subtask not placed in another project."""
    where = "projects" if group == "seed" else "others_projects"
    names = [p.name.strip().casefold() for p in projects]
    problems = [f"{where}: {p.name!r} appears twice (names are unique in any case)"
                for i, p in enumerate(projects) if names.index(p.name.strip().casefold()) != i]
    if INBOX in names:
        problems.append(f"{where}: the Inbox exists for every user; leave it out (tasks name it as project: Inbox)")
    tasks: list[SeedTask] = getattr(s, group)
    placed: dict[str, str] = {}  # key -> project name (casefolded) of the tasks seen so far
    for i, task in enumerate(tasks):
        project = (task.project or "Inbox").strip().casefold()
        if project != INBOX and project not in names:
            problems.append(f"{group}[{i}].project: {task.project!r} is not in {where} (names: "
                            f"{[p.name for p in projects]}) nor the Inbox")
        if task.parent is not None:
            if task.parent not in placed:
                problems.append(f"{group}[{i}].parent: {task.parent!r} names no earlier task of {group} (a parent "
                                "comes before its subtasks)")
            elif task.project is not None and placed[task.parent] != project:
                problems.append(f"{group}[{i}].project: a subtask is in its parent's project; leave project out")
            else:
                project = placed[task.parent]
        if task.key:
            placed[task.key] = project
    return problems
