"""Passwords over HTTP: changing one's own, and the reset link a school's admin makes
for a member who forgot theirs.

The design: web/DESIGN.md, *passwords.py*."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from accounts.passwords import hash_password, verify_password
from accounts.resets import make_reset
from accounts.sessions import token_hash
from web import keys
from web.auth import TOKEN, user_of
from web.bodies.accounts import NewPassword, PasswordChange
from web.errors import Refused
from web.guard import link_base
from web.http.accounts import _logged_in, check_password, password_attempt, visible_organisation
from web.validation import body

routes = web.RouteTableDef()


@routes.put("/api/me/password")
@body(PasswordChange)
async def change_password(request: web.Request, asked: PasswordChange) -> web.Response:
    """One's own new password, with the current one; one's other sessions end."""
    user = user_of(request)
    attempt = await password_attempt(request, user.login, "wrong passwords")
    if not await verify_password(user.password_hash, asked.current):
        raise Refused(403, "bad_credentials", "the current password is wrong")
    attempt.succeeded()
    password = check_password(asked.password)
    accounts = request.app[keys.ACCOUNTS]
    await accounts.set_password_hash(user.id, await hash_password(password))
    ended = await accounts.drop_sessions_of(user.id, keep=token_hash(request[TOKEN]))
    return web.json_response({"changed": True, "other_sessions_ended": ended})


@routes.post("/api/orgs/{org}/members/{profile}/password-reset")
async def create_reset(request: web.Request) -> web.Response:
    """An admin makes a member's one-time reset link."""
    org, admin = await visible_organisation(request, request.match_info["org"])
    accounts = request.app[keys.ACCOUNTS]
    member = await accounts.profile(request.match_info["profile"])
    if member is None or member.org_id != org.id:
        raise Refused(404, "not_found", "no such member")
    if not admin:
        raise Refused(403, "forbidden", "only the school's admins make password reset links")
    if await accounts.belongs_elsewhere(member.user_id, org.id):
        # the account is not this school's alone: its admin could take it over elsewhere
        raise Refused(
            409,
            "member_elsewhere",
            f"{member.full_name} is also a member of another school, so only the server's "
            "operator can make their reset link (parta reset-link LOGIN)",
        )
    base = link_base(request)
    path, expires = await make_reset(accounts, member.user_id, user_of(request).id, org.id)
    return web.json_response(
        {
            "link": f"{base}{path}",
            "path": path,
            "for": member.full_name,
            "expires_at": expires.isoformat(),
        },
        status=201,
    )




@routes.get("/api/password-resets/{token}")
async def reset_info(request: web.Request) -> web.Response:
    """Whom a reset link is for (the reset page shows it), while it works."""
    found = await request.app[keys.ACCOUNTS].reset_user(_token_hash(request), datetime.now(UTC))
    if found is None:
        raise _gone()
    user, expires = found
    return web.json_response(
        {"login": user.login, "display_name": user.display_name, "expires_at": expires.isoformat()}
    )


@routes.post("/api/password-resets/{token}")
@body(NewPassword)
async def use_reset(request: web.Request, asked: NewPassword) -> web.Response:
    """A reset link's new password: set, everyone else logged out, this one logged in."""
    password = check_password(asked.password)
    user = await request.app[keys.ACCOUNTS].use_reset(
        _token_hash(request), await hash_password(password), datetime.now(UTC)
    )
    if user is None:
        raise _gone()
    return await _logged_in(request, user, 200)


def _token_hash(request: web.Request) -> str:
    return token_hash(request.match_info["token"])


def _gone() -> Refused:
    return Refused(
        404, "bad_reset", "this reset link was used, has expired or was replaced by a newer one"
    )
