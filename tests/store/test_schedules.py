"""Which lessons a user sees, in one query of the store, on SQLite and PostgreSQL: the ones
they organised and those of the chats their profile is a member of."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from model.schedule import Schedule, check_schedule
from store.accounts import AccountStore
from store.chats import ChatStore, MessageDraft
from store.schedules import ScheduleStore, StoredSchedule

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)


async def test_a_user_sees_the_lessons_they_organised_and_their_chats(engine: AsyncEngine) -> None:
    accounts, chats, lessons = AccountStore(engine), ChatStore(engine), ScheduleStore(engine)
    admin = await accounts.add_user("admin", "h", "Admin", NOW)
    school, _ = await accounts.add_organisation("School", admin.id, NOW)
    users = {}
    for name in ("teacher", "ann", "bob"):
        users[name] = await accounts.add_user(name, "h", name.title(), NOW)
    teacher = await accounts.add_profile(school.id, users["teacher"].id, "teacher", "T", None, NOW)
    ann = await accounts.add_profile(school.id, users["ann"].id, "student", "Ann", None, NOW)
    await accounts.add_profile(school.id, users["bob"].id, "student", "Bob", None, NOW)  # not in
    created = MessageDraft(kind="system", body="", sender_id=None, meta={"event": "created"})
    chat, _ = await chats.create(
        org_id=school.id, kind="group", title="7b", public=False, owner_id=teacher.id,
        now=NOW, first=created,
    )  # fmt: skip
    joined = MessageDraft(kind="system", body="", sender_id=None, meta={"event": "joined"})
    await chats.join(chat.id, ann.id, NOW, joined)

    def lesson(title: str) -> Schedule:
        return check_schedule(
            title=title, start=datetime(2030, 1, 2, 9), time_zone="Europe/Moscow", now=NOW,
            duration="45m",
            uid=f"{title}@parta",
        )  # fmt: skip

    await lessons.add(lesson("own"), call_id="c-own", now=NOW, created_by=users["ann"].id)
    await lessons.add(
        lesson("class"), call_id="c-class", now=NOW, created_by=users["teacher"].id,
        chat_id=chat.id,
    )  # fmt: skip
    await lessons.add(lesson("private"), call_id="c-priv", now=NOW, created_by=users["teacher"].id)

    def titles(found: list[StoredSchedule]) -> list[str]:
        return [s.schedule.title for s in found]

    assert titles(await lessons.visible_to(users["teacher"].id)) == ["class", "private"]
    assert titles(await lessons.visible_to(users["ann"].id)) == ["own", "class"]
    assert titles(await lessons.visible_to(users["bob"].id)) == []
    assert titles(await lessons.visible_to(admin.id)) == []
    assert titles(await lessons.of_chats([chat.id])) == ["class"]
    assert (await lessons.by_call("c-class")) is not None
    assert await lessons.by_call("nothing") is None
