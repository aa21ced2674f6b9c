from domain.schemas import TaskCreate, TaskQuery, TaskUpdate
from domain.usecases import complete_task, create_task, get_task, list_tasks, update_task, undo_last_change, search_tasks


async def test_create_and_list(uow, actor):
    t = await create_task(uow, actor, TaskCreate(title="Buy milk", tags=["Home", "errands"], due_at="2026-12-01T09:00",
                                                 priority="high", reminders=[60, 0]))
    assert t.tags == ["errands", "home"] and t.priority == "high" and t.reminders == [0, 60]
    got = await get_task(uow, actor, t.id)
    assert got == t
    page = await list_tasks(uow, actor, TaskQuery(tag=["home"]))
    assert [x.id for x in page.data] == [t.id] and page.count == 1
    u = await update_task(uow, actor, t.id, TaskUpdate(title="Buy oat milk"), expected_version=1)
    assert u.version == 2 and u.tags == ["errands", "home"]
    s = await search_tasks(uow, actor, "oat mil")
    assert [x.id for x in s.data] == [t.id]
    c = await complete_task(uow, actor, t.id)
    assert c.status == "completed"
    r = await undo_last_change(uow, actor)
    assert r.tasks[0].status == "open"
