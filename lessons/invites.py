"""Invitations to a scheduled lesson: an e-mail with the lesson's .ics attached.

Sent through the operator's SMTP server when one is configured; otherwise the same
message is offered as an .eml file the teacher opens in their own mail program.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

MAX_RECIPIENTS = 200
_ADDRESS = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")


class InviteError(ValueError):
    """Something about the invitation a user can fix; the message says what."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    tls: bool = False

    @classmethod
    def parse(cls, url: str) -> SmtpSettings:
        """`smtp://user:pass@host:587?starttls=1&from=school@example.org` (smtps:// for TLS)."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise InviteError("an SMTP URL looks like smtp://user:pass@host:587?from=a@b")
        query = parse_qs(parts.query)
        sender = query.get("from", [""])[0]
        if not _ADDRESS.match(sender):
            raise InviteError("the SMTP URL needs ?from=<sender address>")
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if parts.scheme == "smtps" else 25),
            sender=sender,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            starttls=query.get("starttls", ["0"])[0] in ("1", "true", "yes"),
            tls=parts.scheme == "smtps",
        )


def check_recipients(raw: object) -> list[str]:
    if not isinstance(raw, list) or not raw:
        raise InviteError("give 'emails': a list of addresses")
    if len(raw) > MAX_RECIPIENTS:
        raise InviteError(f"at most {MAX_RECIPIENTS} addresses at a time")
    bad = [str(a) for a in raw if not isinstance(a, str) or not _ADDRESS.match(a.strip())]
    if bad:
        raise InviteError(f"not an e-mail address: {', '.join(bad[:5])}")
    return sorted({str(a).strip() for a in raw})


def build_invite(
    *, title: str, when: str, link: str, ics: bytes, sender: str, recipients: list[str]
) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = f"Invitation: {title}"
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="parta.invalid")
    message.set_content(
        f"You are invited to {title}.\n\nWhen: {when}\nJoin: {link}\n\n"
        "The attached calendar file adds the lesson, with its reminders, to your calendar.\n"
    )
    message.add_attachment(
        ics,
        maintype="text",
        subtype="calendar",
        filename="lesson.ics",
        params={"method": "PUBLISH"},
    )
    return message


async def send(message: EmailMessage, smtp: SmtpSettings) -> None:
    await aiosmtplib.send(
        message,
        hostname=smtp.host,
        port=smtp.port,
        username=smtp.username,
        password=smtp.password,
        start_tls=smtp.starttls,
        use_tls=smtp.tls,
        timeout=20,
    )


def build_reminder(
    *, title: str, when: str, starts_in: str, link: str, sender: str, recipient: str
) -> EmailMessage:
    """One invitee's reminder of one lesson (one message each: invitees do not see each
    other's addresses)."""
    message = EmailMessage()
    message["Subject"] = f"Reminder: {title} {starts_in}"
    message["From"] = sender
    message["To"] = recipient
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="parta.invalid")
    message.set_content(f"{title} {starts_in}.\n\nWhen: {when}\nJoin: {link}\n")
    return message
