"""Accounts over HTTP: sign-up, log-in, log-out, who am I; organisations (schools),
their invite codes and educational profiles.

Closed contour: an organisation, its members and their profiles are visible only to
its members and admins; to anyone else they answer 404, as if they did not exist.
"""

from __future__ import annotations

import asyncio
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from accounts.limits import address_key
from accounts.passwords import MAX_LENGTH, MIN_LENGTH, hash_password, needs_rehash, verify_password
from store.accounts import ROLES, Conflict, Organisation, Profile, QuietHours, User
from web import keys
from web.auth import TOKEN, drop_cookie, set_cookie, user_of
from web.bodies.accounts import LogIn, MembersQuery, NewOrganisation, NewProfile, SignUp
from web.errors import Refused, json_error
from web.forwarded import request_address
from web.validation import body, query

routes = web.RouteTableDef()

LOGIN = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")


def _now() -> datetime:
    return datetime.now(UTC)


def describe_user(user: User) -> dict[str, Any]:
    return {"id": user.id, "login": user.login, "display_name": user.display_name}


def describe_profile(profile: Profile, org: Organisation | None = None) -> dict[str, Any]:
    described: dict[str, Any] = {
        "id": profile.id,
        "org_id": profile.org_id,
        "role": profile.role,
        "full_name": profile.full_name,
        "class_name": profile.class_name,
    }
    if org is not None:
        described["org"] = {"id": org.id, "name": org.name}
    return described


def describe_hours(hours: QuietHours) -> dict[str, Any]:
    """Working hours as PUT /api/profiles/{id}/quiet-hours takes them."""

    def clock(minutes: int) -> str:
        return f"{minutes // 60:02}:{minutes % 60:02}"

    return {
        "days": list(hours.days),
        "from": clock(hours.start_minute),
        "to": clock(hours.end_minute),
        "time_zone": hours.time_zone,
    }


def check_password(password: str) -> str:
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise Refused(
            400, "bad_password", f"the password must be {MIN_LENGTH} to {MAX_LENGTH} characters"
        )
    return password


async def _logged_in(request: web.Request, user: User, status: int) -> web.Response:
    token = await request.app[keys.SESSIONS].start(user)
    response = web.json_response({"user": describe_user(user), "token": token}, status=status)
    set_cookie(response, token, request.app[keys.SESSIONS])
    return response


@routes.post("/api/auth/signup")
@body(SignUp)
async def signup(request: web.Request, asked: SignUp) -> web.Response:
    """A new account (a login, a password of at least 8 characters, a name); logged in."""
    login = asked.login
    if not LOGIN.match(login):
        raise Refused(
            400,
            "bad_login",
            "a login is 3 to 64 of a-z 0-9 . _ - and starts with a letter or digit",
        )
    password = check_password(asked.password)
    name = asked.display_name or login
    try:
        user = await request.app[keys.ACCOUNTS].add_user(
            login, await hash_password(password), name, _now()
        )
    except Conflict:
        raise Refused(409, "login_taken", "that login is taken") from None
    return await _logged_in(request, user, 201)


@routes.post("/api/auth/login")
@body(LogIn)
async def login(request: web.Request, asked: LogIn) -> web.Response:
    """Log in: the session's token comes back, and as a cookie."""
    name, password = asked.login, asked.password
    accounts = request.app[keys.ACCOUNTS]
    valid = LOGIN.match(name) is not None
    # a login that cannot exist is counted under one name, however long it was
    attempt = await password_attempt(request, name if valid else "?", "failed log-ins")
    user = await accounts.user_by_login(name) if valid else None
    ok = await verify_password(user.password_hash if user else None, password)
    if user is None or not ok:
        raise Refused(401, "bad_credentials", "wrong login or password")
    attempt.succeeded()
    if needs_rehash(user.password_hash):
        await accounts.set_password_hash(user.id, await hash_password(password))
    return await _logged_in(request, user, 200)


@dataclass(frozen=True)
class PasswordAttempt:
    """One password try let through by the log-in limiter: counted as failed unless
    the password was right and `succeeded` is called."""

    request: web.Request
    login: str
    address: str

    def succeeded(self) -> None:
        self.request.app[keys.LOGIN_LIMITER].succeeded(self.login, self.address)


class TooManyAttempts(Refused):
    """429 with Retry-After."""

    def __init__(self, what: str, retry_after: float) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(
            429,
            "too_many_attempts",
            f"too many {what} for this login from your address: try again in {self.retry_after} s",
        )

    def response(self, request: web.Request) -> web.Response:
        return json_error(
            request,
            self.status,
            self.code,
            self.message,
            headers={"Retry-After": str(self.retry_after)},
            retry_after=self.retry_after,
        )


async def password_attempt(request: web.Request, login: str, what: str) -> PasswordAttempt:
    """One more password tried for `login` from the request's address: 429 when this
    address tried too many `what` for it lately; else after the delay the limiter asks
    for (other addresses' failures on this login, or this address's on others), counted
    as failed until it succeeds."""
    address = address_key(request_address(request))
    verdict = request.app[keys.LOGIN_LIMITER].attempt(login, address)
    throttled = request.app[keys.METRICS].login_throttled
    if verdict.retry_after > 0:
        throttled.labels("refused").inc()
        raise TooManyAttempts(what, verdict.retry_after)
    if verdict.delay > 0:
        throttled.labels(f"delayed_{verdict.because}").inc()
        await asyncio.sleep(verdict.delay)
    return PasswordAttempt(request, login, address)


@routes.post("/api/auth/logout")
async def logout(request: web.Request) -> web.Response:
    token = request.get(TOKEN)
    if token is not None:
        await request.app[keys.SESSIONS].end(token)
    response = web.Response(status=204)
    drop_cookie(response, request.app[keys.SESSIONS])
    return response


@routes.get("/api/me")
async def me(request: web.Request) -> web.Response:
    user = user_of(request)
    accounts = request.app[keys.ACCOUNTS]
    profiles = []
    for profile in await accounts.profiles_of(user.id):
        described = describe_profile(profile, await accounts.organisation(profile.org_id))
        hours = await accounts.quiet_hours(profile.id)
        described["quiet_hours"] = None if hours is None else describe_hours(hours)
        profiles.append(described)
    admin_of = [{"id": o.id, "name": o.name} for o in await accounts.admin_of(user.id)]
    return web.json_response(
        {"user": describe_user(user), "profiles": profiles, "admin_of": admin_of}
    )


# -- organisations --------------------------------------------------------------------


@routes.post("/api/orgs")
@body(NewOrganisation)
async def create_organisation(request: web.Request, asked: NewOrganisation) -> web.Response:
    """A school: its creator is its admin and gets its three invite codes."""
    org, codes = await request.app[keys.ACCOUNTS].add_organisation(
        asked.name, user_of(request).id, _now()
    )
    return web.json_response({"id": org.id, "name": org.name, "invite_codes": codes}, status=201)


async def visible_organisation(request: web.Request, org_id: str) -> tuple[Organisation, bool]:
    """The organisation and whether the caller is its admin, if the caller belongs to it
    (a profile in it, or an admin); else Refused 404, whether or not it exists."""
    user = user_of(request)
    accounts = request.app[keys.ACCOUNTS]
    org = await accounts.organisation(org_id)
    if org is not None:
        admin = await accounts.is_admin(org_id, user.id)
        if admin or any(p.org_id == org_id for p in await accounts.profiles_of(user.id)):
            return org, admin
    raise Refused(404, "not_found", "no such organisation")


@routes.get("/api/orgs/{org}/codes")
async def invite_codes(request: web.Request) -> web.Response:
    org, admin = await visible_organisation(request, request.match_info["org"])
    if not admin:
        raise Refused(403, "forbidden", "only the organisation's admins see its invite codes")
    return web.json_response(
        {"invite_codes": await request.app[keys.ACCOUNTS].invite_codes(org.id)}
    )


@routes.post("/api/orgs/{org}/codes/{role}")
async def renew_invite_code(request: web.Request) -> web.Response:
    org, admin = await visible_organisation(request, request.match_info["org"])
    role = request.match_info["role"]
    if not admin:
        raise Refused(403, "forbidden", "only the organisation's admins renew invite codes")
    if role not in ROLES:
        raise Refused(404, "not_found", "no such role")
    code = await request.app[keys.ACCOUNTS].renew_invite_code(org.id, role, _now())
    return web.json_response({"role": role, "code": code})


@routes.post("/api/profiles")
@body(NewProfile)
async def create_profile(request: web.Request, asked: NewProfile) -> web.Response:
    """An educational profile in the organisation whose invite code is given; the code
    decides the role (teacher, student or parent)."""
    code, full_name, class_name = asked.code, asked.full_name, asked.class_name
    accounts = request.app[keys.ACCOUNTS]
    found = await accounts.redeem(code) if code else None
    if found is None:
        raise Refused(404, "bad_code", "no organisation has that invite code")
    org, role = found
    try:
        profile = await accounts.add_profile(
            org.id, user_of(request).id, role, full_name, class_name, _now()
        )
    except Conflict:
        raise Refused(409, "profile_exists", "you already have a profile in this school") from None
    return web.json_response(describe_profile(profile, org), status=201)


@routes.get("/api/profiles/{profile}")
async def profile(request: web.Request) -> web.Response:
    """One educational profile: only for members of its organisation."""
    found = await request.app[keys.ACCOUNTS].profile(request.match_info["profile"])
    if found is None:
        raise Refused(404, "not_found", "no such profile")
    await visible_organisation(request, found.org_id)  # 404 for outsiders
    return web.json_response(describe_profile(found))


@routes.get("/api/orgs/{org}/members")
@query(MembersQuery)
async def members(request: web.Request, asked: MembersQuery) -> web.Response:
    """The organisation's people, by role, with an optional name search (`?q=`):
    members only; nobody outside can search."""
    org, _ = await visible_organisation(request, request.match_info["org"])
    query, role = asked.q.casefold(), asked.role
    people = [
        describe_profile(p)
        for p in await request.app[keys.ACCOUNTS].members(org.id)
        if (not query or query in p.full_name.casefold()) and (role is None or p.role == role)
    ]
    return web.json_response({"members": people})
