"""Users, sessions, organisations and educational profiles in the SQL store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, Table, delete, exists, insert, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from store.ids import new_code, new_id
from store.tables import (
    org_admins,
    org_invites,
    organisations,
    password_resets,
    profiles,
    quiet_hours,
    sessions,
    users,
)

ROLES = ("teacher", "student", "parent")


class Conflict(Exception):
    """The thing exists already (a login, a profile in that organisation)."""


@dataclass(frozen=True)
class User:
    id: str
    login: str
    display_name: str
    password_hash: str


@dataclass(frozen=True)
class Organisation:
    id: str
    name: str


@dataclass(frozen=True)
class Profile:
    id: str
    org_id: str
    user_id: str
    role: str
    full_name: str
    class_name: str | None


@dataclass(frozen=True)
class QuietHours:
    """Working hours: notifications outside them are silent."""

    days: tuple[int, ...]  # ISO weekdays, 1 = Monday
    start_minute: int  # minutes after midnight, local time
    end_minute: int
    time_zone: str


def _profile(row: object) -> Profile:
    m = row._mapping  # type: ignore[attr-defined]
    return Profile(
        id=m["id"],
        org_id=m["org_id"],
        user_id=m["user_id"],
        role=m["role"],
        full_name=m["full_name"],
        class_name=m["class_name"],
    )


class AccountStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    # -- users and sessions ------------------------------------------------------------

    async def add_user(
        self, login: str, password_hash: str, display_name: str, now: datetime
    ) -> User:
        user = User(new_id(), login, display_name, password_hash)
        try:
            async with self._engine.begin() as connection:
                await connection.execute(
                    insert(users).values(
                        id=user.id,
                        login=login,
                        password_hash=password_hash,
                        display_name=display_name,
                        created_at=now,
                    )
                )
        except IntegrityError:
            raise Conflict("that login is taken") from None
        return user

    async def user_by_login(self, login: str) -> User | None:
        async with self._engine.connect() as connection:
            row = (await connection.execute(select(users).where(users.c.login == login))).first()
        return None if row is None else _user(row)

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                update(users).where(users.c.id == user_id).values(password_hash=password_hash)
            )

    async def add_session(
        self, token_hash: str, user_id: str, now: datetime, expires_at: datetime
    ) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                insert(sessions).values(
                    token_hash=token_hash, user_id=user_id, created_at=now, expires_at=expires_at
                )
            )

    async def session_user(self, token_hash: str, now: datetime) -> User | None:
        """The user of a session that has not expired."""
        found = await self.session(token_hash, now)
        return None if found is None else found[0]

    async def session(self, token_hash: str, now: datetime) -> tuple[User, datetime] | None:
        """The user of a session that has not expired, and when it expires."""
        return await self._holder(sessions, token_hash, now)

    async def _holder(
        self, table: Table, token_hash: str, now: datetime, also: Any = None
    ) -> tuple[User, datetime] | None:
        """The user of a token (a session's, a reset link's) that has not expired (and
        meets `also`), and when it expires."""
        query = (
            select(users, table.c.expires_at)
            .join(table, table.c.user_id == users.c.id)
            .where(
                (table.c.token_hash == token_hash)
                & (table.c.expires_at > now)
                & (true() if also is None else also)
            )
        )
        async with self._engine.connect() as connection:
            row = (await connection.execute(query)).first()
        if row is None:
            return None
        expires = row.expires_at
        if expires.tzinfo is None:  # SQLite keeps no offset: the store writes UTC
            expires = expires.replace(tzinfo=UTC)
        return _user(row), expires

    async def extend_session(self, token_hash: str, expires_at: datetime) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                update(sessions)
                .where(sessions.c.token_hash == token_hash)
                .values(expires_at=expires_at)
            )

    async def drop_session(self, token_hash: str) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(delete(sessions).where(sessions.c.token_hash == token_hash))

    async def drop_sessions_of(self, user_id: str, *, keep: str | None = None) -> int:
        """End every session of a user (but the one whose hash is `keep`); how many."""
        condition = sessions.c.user_id == user_id
        if keep is not None:
            condition = condition & (sessions.c.token_hash != keep)
        async with self._engine.begin() as connection:
            done = await connection.execute(delete(sessions).where(condition))
        return int(done.rowcount or 0)

    # -- password resets ---------------------------------------------------------------

    async def add_reset(
        self,
        token_hash: str,
        user_id: str,
        by: str | None,
        now: datetime,
        expires_at: datetime,
        org_id: str | None = None,
    ) -> None:
        """A new reset link for a user, made by the admin `by` of school `org_id`, or by
        the operator (both None); any earlier one of theirs stops working. An admin's
        link works only while the user belongs to no other school."""
        async with self._engine.begin() as connection:
            await connection.execute(
                delete(password_resets).where(password_resets.c.user_id == user_id)
            )
            await connection.execute(
                insert(password_resets).values(
                    token_hash=token_hash,
                    user_id=user_id,
                    created_by=by,
                    created_at=now,
                    expires_at=expires_at,
                    org_id=org_id,
                )
            )

    async def reset_user(self, token_hash: str, now: datetime) -> tuple[User, datetime] | None:
        """The user a reset link that has not expired (nor been used) is for, and when
        it expires."""
        return await self._holder(password_resets, token_hash, now, _reset_still_good())

    async def use_reset(self, token_hash: str, password_hash: str, now: datetime) -> User | None:
        """Set the password a reset link is for, once: the link goes, and so does every
        session of its user. None when the link is used, expired or unknown."""
        async with self._engine.begin() as connection:
            row = (
                await connection.execute(
                    delete(password_resets)
                    .where(
                        (password_resets.c.token_hash == token_hash)
                        & (password_resets.c.expires_at > now)
                        & _reset_still_good()
                    )
                    .returning(password_resets.c.user_id)
                )
            ).first()
            if row is None:
                return None
            user_id = row.user_id
            await connection.execute(
                update(users).where(users.c.id == user_id).values(password_hash=password_hash)
            )
            await connection.execute(delete(sessions).where(sessions.c.user_id == user_id))
            found = (await connection.execute(select(users).where(users.c.id == user_id))).first()
        assert found is not None
        return _user(found)

    async def drop_expired_sessions(self, now: datetime) -> int:
        async with self._engine.begin() as connection:
            done = await connection.execute(delete(sessions).where(sessions.c.expires_at <= now))
        return int(done.rowcount or 0)

    # -- organisations -------------------------------------------------------------------

    async def add_organisation(
        self, name: str, admin_id: str, now: datetime
    ) -> tuple[Organisation, dict[str, str]]:
        """A new school with its creator as admin, and an invite code per role."""
        org = Organisation(new_id(), name)
        codes = {role: new_code() for role in ROLES}
        async with self._engine.begin() as connection:
            await connection.execute(
                insert(organisations).values(
                    id=org.id, name=name, created_by=admin_id, created_at=now
                )
            )
            await connection.execute(insert(org_admins).values(org_id=org.id, user_id=admin_id))
            for role, code in codes.items():
                await connection.execute(
                    insert(org_invites).values(
                        code=code, org_id=org.id, role=role, created_at=now, revoked=False
                    )
                )
        return org, codes

    async def organisation(self, org_id: str) -> Organisation | None:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(select(organisations).where(organisations.c.id == org_id))
            ).first()
        return None if row is None else Organisation(row.id, row.name)

    async def is_admin(self, org_id: str, user_id: str) -> bool:
        query = select(org_admins.c.user_id).where(
            (org_admins.c.org_id == org_id) & (org_admins.c.user_id == user_id)
        )
        async with self._engine.connect() as connection:
            return (await connection.execute(query)).first() is not None

    async def admin_of(self, user_id: str) -> list[Organisation]:
        query = (
            select(organisations)
            .join(org_admins, org_admins.c.org_id == organisations.c.id)
            .where(org_admins.c.user_id == user_id)
            .order_by(organisations.c.name)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [Organisation(r.id, r.name) for r in rows]

    async def invite_codes(self, org_id: str) -> dict[str, str]:
        query = select(org_invites.c.role, org_invites.c.code).where(
            (org_invites.c.org_id == org_id) & ~org_invites.c.revoked
        )
        async with self._engine.connect() as connection:
            return {r.role: r.code for r in (await connection.execute(query)).all()}

    async def renew_invite_code(self, org_id: str, role: str, now: datetime) -> str:
        code = new_code()
        async with self._engine.begin() as connection:
            await connection.execute(
                update(org_invites)
                .where((org_invites.c.org_id == org_id) & (org_invites.c.role == role))
                .values(revoked=True)
            )
            await connection.execute(
                insert(org_invites).values(
                    code=code, org_id=org_id, role=role, created_at=now, revoked=False
                )
            )
        return code

    async def redeem(self, code: str) -> tuple[Organisation, str] | None:
        """The organisation and role an invite code brings, if it is valid."""
        query = (
            select(organisations.c.id, organisations.c.name, org_invites.c.role)
            .join(org_invites, org_invites.c.org_id == organisations.c.id)
            .where((org_invites.c.code == code) & ~org_invites.c.revoked)
        )
        async with self._engine.connect() as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else (Organisation(row.id, row.name), row.role)

    # -- educational profiles -------------------------------------------------------------

    async def add_profile(
        self,
        org_id: str,
        user_id: str,
        role: str,
        full_name: str,
        class_name: str | None,
        now: datetime,
    ) -> Profile:
        profile = Profile(new_id(), org_id, user_id, role, full_name, class_name)
        try:
            async with self._engine.begin() as connection:
                await connection.execute(
                    insert(profiles).values(
                        id=profile.id,
                        org_id=org_id,
                        user_id=user_id,
                        role=role,
                        full_name=full_name,
                        class_name=class_name,
                        created_at=now,
                    )
                )
        except IntegrityError:
            raise Conflict("you already have a profile in this organisation") from None
        return profile

    async def profiles_of(self, user_id: str) -> list[Profile]:
        query = (
            select(profiles).where(profiles.c.user_id == user_id).order_by(profiles.c.created_at)
        )
        async with self._engine.connect() as connection:
            return [_profile(r) for r in (await connection.execute(query)).all()]

    async def belongs_elsewhere(self, user_id: str, org_id: str) -> bool:
        """Whether the user is in a school other than this one: a profile or an admin's
        seat there."""
        async with self._engine.connect() as connection:
            row = (await connection.execute(select(_elsewhere(user_id, org_id)))).scalar()
        return bool(row)

    async def profile(self, profile_id: str) -> Profile | None:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(select(profiles).where(profiles.c.id == profile_id))
            ).first()
        return None if row is None else _profile(row)

    async def members(self, org_id: str) -> list[Profile]:
        query = (
            select(profiles)
            .where(profiles.c.org_id == org_id)
            .order_by(profiles.c.role, profiles.c.full_name)
        )
        async with self._engine.connect() as connection:
            return [_profile(r) for r in (await connection.execute(query)).all()]

    # -- quiet hours ----------------------------------------------------------------------

    async def quiet_hours(self, profile_id: str) -> QuietHours | None:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    select(quiet_hours).where(quiet_hours.c.profile_id == profile_id)
                )
            ).first()
        if row is None:
            return None
        return QuietHours(
            tuple(int(d) for d in row.days), row.start_minute, row.end_minute, row.time_zone
        )

    async def set_quiet_hours(self, profile_id: str, hours: QuietHours | None) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                delete(quiet_hours).where(quiet_hours.c.profile_id == profile_id)
            )
            if hours is not None:
                await connection.execute(
                    insert(quiet_hours).values(
                        profile_id=profile_id,
                        days=list(hours.days),
                        start_minute=hours.start_minute,
                        end_minute=hours.end_minute,
                        time_zone=hours.time_zone,
                    )
                )


def _user(row: Row[Any]) -> User:
    return User(row.id, row.login, row.display_name, row.password_hash)


def _elsewhere(user_id: Any, org_id: Any) -> Any:
    """SQL: the user has a profile or an admin's seat in a school other than `org_id`."""
    return exists().where((profiles.c.user_id == user_id) & (profiles.c.org_id != org_id)) | (
        exists().where((org_admins.c.user_id == user_id) & (org_admins.c.org_id != org_id))
    )


def _reset_still_good() -> Any:
    """SQL: a reset link still works for its user: the operator's always; a school
    admin's only while the user belongs to no other school (one school's admin must not
    take over a place in another)."""
    link = password_resets.c
    return link.org_id.is_(None) | ~_elsewhere(link.user_id, link.org_id)
