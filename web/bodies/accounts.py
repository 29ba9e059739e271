"""What the accounts' HTTP API takes: one model per body (web/validation.py).

Logins and passwords are checked by the handlers after the model, so that their refusals
keep their own codes (`bad_login`, `bad_password`) and words."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import StringConstraints

from model.schema import QuerySchema, Schema, chars

# generous bounds: the handlers say what a login and a password must be
Login = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, max_length=256)]
Password = Annotated[str, StringConstraints(max_length=4096)]


class SignUp(Schema):
    login: Login = ""
    password: Password = ""
    display_name: Annotated[str, chars(128)] | None = None


class LogIn(Schema):
    login: Login = ""
    password: Password = ""


class NewPassword(Schema):
    password: Password = ""


class PasswordChange(Schema):
    current: Password = ""
    password: Password = ""


class NewOrganisation(Schema):
    name: Annotated[str, chars(128)]


class NewProfile(Schema):
    code: Annotated[str, chars(64, min_length=0)] = ""
    full_name: Annotated[str, chars(128)]
    class_name: Annotated[str, chars(32)] | None = None


class MembersQuery(QuerySchema):
    q: Annotated[str, chars(128, min_length=0)] = ""
    role: Literal["teacher", "student", "parent"] | None = None
