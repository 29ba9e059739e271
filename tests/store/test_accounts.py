"""Users, sessions, organisations and profiles in the store, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from store.accounts import AccountStore, Conflict

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)


async def test_users_sessions_and_expiry(engine: AsyncEngine) -> None:
    store = AccountStore(engine)
    anna = await store.add_user("anna", "hash-a", "Anna Petrova", NOW)
    with pytest.raises(Conflict):
        await store.add_user("anna", "hash-b", "Another Anna", NOW)
    assert await store.user_by_login("anna") == anna
    assert await store.user_by_login("nobody") is None
    await store.add_session("t1", anna.id, NOW, NOW + timedelta(days=1))
    assert await store.session_user("t1", NOW) == anna
    assert await store.session_user("t1", NOW + timedelta(days=2)) is None  # expired
    assert await store.session_user("t2", NOW) is None
    await store.extend_session("t1", NOW + timedelta(days=3))
    assert await store.session_user("t1", NOW + timedelta(days=2)) == anna
    assert await store.drop_expired_sessions(NOW + timedelta(days=4)) == 1
    await store.add_session("t3", anna.id, NOW, NOW + timedelta(days=1))
    await store.drop_session("t3")
    assert await store.session_user("t3", NOW) is None


async def test_organisations_codes_and_profiles(engine: AsyncEngine) -> None:
    store = AccountStore(engine)
    admin = await store.add_user("director", "h", "Director", NOW)
    teacher = await store.add_user("teacher", "h", "Teacher", NOW)
    school, codes = await store.add_organisation("School 5", admin.id, NOW)
    assert set(codes) == {"teacher", "student", "parent"}
    assert await store.is_admin(school.id, admin.id)
    assert not await store.is_admin(school.id, teacher.id)
    assert await store.admin_of(admin.id) == [school]
    assert await store.redeem(codes["teacher"]) == (school, "teacher")
    assert await store.redeem("wrong") is None
    profile = await store.add_profile(school.id, teacher.id, "teacher", "Ivan Ivanov", None, NOW)
    with pytest.raises(Conflict):
        await store.add_profile(school.id, teacher.id, "student", "Again", "5a", NOW)
    assert await store.profiles_of(teacher.id) == [profile]
    assert await store.profile(profile.id) == profile
    assert await store.members(school.id) == [profile]
    renewed = await store.renew_invite_code(school.id, "teacher", NOW)
    assert await store.redeem(codes["teacher"]) is None
    assert await store.redeem(renewed) == (school, "teacher")
    assert (await store.invite_codes(school.id))["teacher"] == renewed
