"""The protocol's one table (calls/dispatch.py) and its documentation (PROTOCOL.md) name
the same client messages, and mark the same ones host-only; the server's messages are
documented too."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

from calls.dispatch import TABLE, TYPES, ClientMessage
from calls.protocol import ServerMessage

PROTOCOL = Path(__file__).parents[2] / "calls" / "PROTOCOL.md"
ROW = re.compile(r"^\| `([a-z_]+)` \| (.*) \| (.*) \|$")


def documented(heading: str = "Client to server") -> dict[str, bool]:
    """A table of PROTOCOL.md: type -> documented as host-only."""
    text = PROTOCOL.read_text(encoding="utf-8")
    section = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = (ROW.match(line) for line in section.splitlines())
    return {row[1]: row[3].startswith("host only") for row in rows if row}


def test_every_type_of_the_table_is_documented_and_no_other() -> None:
    assert sorted(documented()) == sorted(TABLE)


def test_the_host_only_ones_are_documented_so() -> None:
    host_only = {kind for kind, entry in TABLE.items() if entry.host_only}
    assert {kind for kind, host in documented().items() if host} == host_only


def test_parsing_and_the_list_of_types_come_from_the_table() -> None:
    assert tuple(TABLE) == TYPES
    assert get_args(ClientMessage) == tuple(entry.model for entry in TABLE.values())


def test_every_server_message_is_documented_and_no_other() -> None:
    sent = sorted(message.type for message in get_args(ServerMessage))
    assert sorted(documented("Server to client")) == sent
