"""`parta serve`: the command line."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import os
import sys
import tomllib
from pathlib import Path
from typing import Any

from aiohttp import web

from accounts.operator import NoSuchUser, operator_reset_link
from lessons.invites import InviteError, SmtpSettings
from transcriber import models
from web.app import create_app
from web.config import Config, IceServer, trusted_proxy
from web.site import BadUrl, Site, is_loopback

DESCRIPTION = """\
parta: real-time calls and messaging for schools.

`parta serve` starts one node on its embedded defaults: it serves the web client,
the call WebSocket, WHIP and WHEP, /metrics, /healthz and /readyz on HOST:PORT.
Media (WebRTC over UDP) uses the ICE addresses below: on a real network give the
machine's reachable address with --ice-address (and --announced-address behind 1:1
NAT); the default, 127.0.0.1, lets browsers on this machine call each other.

Every option may also be set in a TOML file given with --config (or PARTA_CONFIG),
named as on the command line without its dashes: `redis-url = "redis://..."`,
`port = 8081`, `ice-address = ["10.0.0.5"]`. The command line wins over the
environment, which wins over the file.
"""

RESET_DESCRIPTION = """\
`parta reset-link LOGIN` makes a one-time link that sets a new password for that user
(it works once, for 3 days; only the newest works) and prints it. A school's admin
makes such links on the school's page; this is for the server's operator: for someone
who is a member of several schools, or of none. Give it the options the server runs
with (--config, --database-url, --data-dir, --public-url): the link is made in that
database, at that address.
"""

# options that may also come from the environment
ENVIRONMENT = {
    "config": "PARTA_CONFIG",
    "database_url": "PARTA_DATABASE_URL",
    "redis_url": "PARTA_REDIS_URL",
    "node_id": "PARTA_NODE_ID",
    "speech_model": "PARTA_SPEECH_MODEL",
    "trusted_proxies": "PARTA_TRUSTED_PROXIES",  # repeatable: comma-separated
}


def build_parser(file: dict[str, Any] | None = None) -> argparse.ArgumentParser:
    """The command line; `file`: the values of a config file, under the options' dests,
    which replace the built-in defaults."""
    parser = argparse.ArgumentParser(
        prog="parta", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser(
        "serve",
        help="start the server",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    reset = sub.add_parser(
        "reset-link",
        help="make a one-time password reset link for a user, by login",
        description=RESET_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    reset.add_argument("login", help="the user's login")
    for command in (serve, reset):
        _server_options(command)
    if file:
        # the environment, when set, wins over the file; a repeatable option's list is
        # filled in after parsing (as a default, the command line would add to it)
        repeatable = {a.dest for a in serve._actions if isinstance(a, argparse._AppendAction)}
        for command in (serve, reset):
            command.set_defaults(
                **{
                    k: v
                    for k, v in file.items()
                    if not os.environ.get(ENVIRONMENT.get(k, "")) and k not in repeatable
                }
            )
    return parser


def _server_options(serve: argparse.ArgumentParser) -> None:
    """A node's options: `serve` runs with them, `reset-link` finds its database and
    public address in them (so one config file serves both)."""
    serve.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        default=os.environ.get(ENVIRONMENT["config"]) or None,
        help="a TOML file of options, named as here without the dashes (also PARTA_CONFIG)",
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address the HTTP server listens on (default 127.0.0.1)"
    )
    serve.add_argument(
        "--port", type=int, default=8080, help="TCP port of the HTTP server (default 8080)"
    )
    serve.add_argument(
        "--data-dir",
        type=Path,
        default=Path("data"),
        help="directory for the server's files (default ./data)",
    )
    serve.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="how much the server logs (default info)",
    )
    serve.add_argument(
        "--ice-address",
        action="append",
        dest="ice_addresses",
        metavar="ADDR",
        help="local address to gather ICE candidates on (repeatable; default 127.0.0.1)",
    )
    serve.add_argument(
        "--announced-address",
        action="append",
        dest="announced_addresses",
        metavar="ADDR",
        help="address announced instead of each --ice-address, in order (1:1 NAT)",
    )
    serve.add_argument(
        "--rtc-ports",
        metavar="MIN-MAX",
        help="UDP port range for media (default: any free port)",
    )
    serve.add_argument(
        "--ice-server",
        action="append",
        dest="ice_servers",
        metavar="URL[,USER,PASS]",
        help="STUN/TURN server for the server and browsers (repeatable; default none)",
    )
    serve.add_argument(
        "--smtp",
        metavar="URL",
        help="mail server for invitations, e.g. smtp://user:pass@host:587?starttls=1&from=a@b "
        "(default: invitations are offered as .eml files to send yourself)",
    )
    serve.add_argument(
        "--bearer-token",
        help="operator's token: WHIP and WHEP requests that send it as "
        "'Authorization: Bearer ...' reach every call",
    )
    serve.add_argument(
        "--database-url",
        metavar="URL",
        default=os.environ.get(ENVIRONMENT["database_url"]),
        help="SQL database, e.g. postgresql+asyncpg://user:pass@host/parta "
        "(default: SQLite in --data-dir; also PARTA_DATABASE_URL)",
    )
    serve.add_argument(
        "--max-upload-size",
        metavar="SIZE",
        default="16G",
        help="largest file one may upload, e.g. 500M or 16G (default 16G)",
    )
    serve.add_argument(
        "--org-quota",
        metavar="SIZE",
        default="500G",
        help="how much all of a school's files may take (default 500G)",
    )
    serve.add_argument(
        "--public-url",
        metavar="URL",
        help="the address people open parta at: every link parta builds for others starts "
        "with it, and requests naming another host are refused (default: http://HOST:PORT; "
        "needed when --host is not a loopback address)",
    )
    serve.add_argument(
        "--allowed-origin",
        dest="allowed_origins",
        action="append",
        metavar="URL",
        help="another address people open this server at, such as a load balancer's "
        "(repeatable): requests naming it are answered and its pages may act; any other "
        "host name is refused",
    )
    serve.add_argument(
        "--trusted-proxy",
        action="append",
        dest="trusted_proxies",
        type=trusted_proxy,
        metavar="ADDR|CIDR",
        help="a reverse proxy in front of parta, e.g. 127.0.0.1 behind deploy/nginx on this "
        "machine (repeatable; also PARTA_TRUSTED_PROXIES, comma-separated): a request from "
        "it comes from the right-most address in its X-Forwarded-For that is not a trusted "
        "proxy, as the log-in limits count it (default none: X-Forwarded-For is ignored)",
    )
    serve.add_argument(
        "--redis-url",
        metavar="URL",
        default=os.environ.get(ENVIRONMENT["redis_url"]),
        help="join a cluster of nodes sharing this Redis (and one PostgreSQL, "
        "--database-url), e.g. redis://127.0.0.1:6379/0 (also PARTA_REDIS_URL)",
    )
    serve.add_argument(
        "--node-id",
        default=os.environ.get(ENVIRONMENT["node_id"]),
        help="this node's name in the cluster (default HOST:PORT; also PARTA_NODE_ID)",
    )
    serve.add_argument(
        "--job-claim-after",
        type=float,
        metavar="SECONDS",
        default=30.0,
        help="in a cluster, a transcription job whose node stopped renewing it for this "
        "long (the node died) is taken over by another node (default 30)",
    )
    serve.add_argument(
        "--speech-model",
        metavar="NAME|DIR",
        default=os.environ.get(ENVIRONMENT["speech_model"], "base"),
        help="speech-to-text model for voice messages and recordings' captions: 'base' "
        "(packaged, multilingual), 'tiny.en' (packaged, English only, faster), a directory "
        "holding a CTranslate2 Whisper model, or 'off' (default base; also PARTA_SPEECH_MODEL)",
    )
    serve.add_argument(
        "--transcribers",
        type=int,
        default=2,
        metavar="N",
        help="transcriber processes working at once (default 2)",
    )
    serve.add_argument(
        "--transcriber-threads",
        type=int,
        default=1,
        metavar="N",
        help="CPU threads of each transcriber process (default 1)",
    )
    serve.add_argument(
        "--model-cache",
        type=Path,
        metavar="DIR",
        help="where packaged speech models are unpacked (default ~/.cache/parta/models)",
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, over the environment, over the config file, over defaults."""
    args = build_parser().parse_args(argv)
    file = {} if getattr(args, "config", None) is None else read_config(args.config)
    if file:
        args = build_parser(file).parse_args(argv)
    for action in _serve_options():
        if not isinstance(action, argparse._AppendAction) or getattr(args, action.dest) is not None:
            continue  # not repeatable, or given on the command line
        variable = ENVIRONMENT.get(action.dest)
        if variable and os.environ.get(variable):
            setattr(args, action.dest, _environment_list(variable, action))
        elif isinstance(file.get(action.dest), list):
            setattr(args, action.dest, file[action.dest])
    return args


def _environment_list(variable: str, action: argparse.Action) -> list[Any]:
    """A repeatable option's values from the environment, comma-separated."""
    values = [item.strip() for item in os.environ[variable].split(",") if item.strip()]
    try:
        return [action.type(item) if callable(action.type) else item for item in values]
    except ValueError as exc:
        raise SystemExit(f"parta: {variable}: {exc}") from None


def read_config(path: Path) -> dict[str, Any]:
    """A config file's options, checked and converted as the command line's would be."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SystemExit(f"parta: --config {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SystemExit(f"parta: --config {path}: not TOML: {exc}") from None
    actions = {
        option[2:]: action
        for action in _serve_options()
        for option in action.option_strings
        if option.startswith("--") and option not in ("--help", "--config")
    }
    values: dict[str, Any] = {}
    for key, value in raw.items():
        action = actions.get(key.replace("_", "-"))
        if action is None:
            known = ", ".join(sorted(actions))
            raise SystemExit(f"parta: --config {path}: unknown option {key!r} (known: {known})")
        values[action.dest] = _option_value(path, key, action, value)
    return values


def _option_value(path: Path, key: str, action: argparse.Action, value: Any) -> Any:
    repeatable = isinstance(action, argparse._AppendAction)
    items = value if repeatable and isinstance(value, list) else [value]
    converted = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise SystemExit(
                f"parta: --config {path}: {key} is a "
                + ("string or a list of them" if repeatable else "string or a number")
            )
        try:
            one = action.type(str(item)) if callable(action.type) else str(item)
        except ValueError:
            raise SystemExit(f"parta: --config {path}: {key}: {item!r} is not valid") from None
        if action.choices is not None and one not in action.choices:
            choices = ", ".join(map(str, action.choices))
            raise SystemExit(f"parta: --config {path}: {key} is one of {choices}")
        converted.append(one)
    return converted if repeatable else converted[0]


def _serve_options() -> list[argparse.Action]:
    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices["serve"]._actions)
    raise AssertionError("parta has a serve command")


def parse_size(text: str) -> int:
    """`1500`, `500K`, `200M`, `16G`, `2T` (powers of 1024) to bytes."""
    units = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
    number, unit = text.strip().upper().rstrip("B"), ""
    if number and number[-1] in units:
        number, unit = number[:-1], number[-1]
    try:
        size = int(float(number) * units[unit])
    except ValueError:
        raise ValueError(f"{text!r} is not a size such as 500M or 16G") from None
    if size <= 0:
        raise ValueError(f"{text!r}: a size is more than zero")
    return size


def config_from_args(args: argparse.Namespace) -> Config:
    addresses = tuple(args.ice_addresses or ["127.0.0.1"])
    for address in (*addresses, *(args.announced_addresses or [])):
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise SystemExit(f"parta: {address!r} is not an IP address") from None
    port_min = port_max = 0
    if args.rtc_ports:
        try:
            low, high = (int(x) for x in args.rtc_ports.split("-", 1))
        except ValueError:
            raise SystemExit("parta: --rtc-ports takes MIN-MAX, e.g. 40000-40999") from None
        if not 1024 <= low <= high <= 65535:
            raise SystemExit("parta: --rtc-ports must lie within 1024-65535, MIN <= MAX")
        port_min, port_max = low, high
    try:
        ice_servers = tuple(IceServer.parse(s) for s in args.ice_servers or [])
    except ValueError as exc:
        raise SystemExit(f"parta: --ice-server: {exc}") from None
    try:
        smtp = SmtpSettings.parse(args.smtp) if args.smtp else None
    except InviteError as exc:
        raise SystemExit(f"parta: --smtp: {exc}") from None
    try:
        max_upload, quota = parse_size(args.max_upload_size), parse_size(args.org_quota)
    except ValueError as exc:
        raise SystemExit(f"parta: {exc}") from None
    speech_model = None if args.speech_model == "off" else args.speech_model
    if speech_model is not None:
        try:
            models.check(speech_model)
        except models.ModelNotFound as exc:
            raise SystemExit(f"parta: --speech-model: {exc}") from None
    if args.transcribers < 1 or args.transcriber_threads < 1:
        raise SystemExit("parta: --transcribers and --transcriber-threads are at least 1")
    try:
        Site.of(args.public_url, tuple(args.allowed_origins or ()))
    except BadUrl as exc:
        raise SystemExit(f"parta: --public-url / --allowed-origin: {exc}") from None
    if args.public_url is None and not is_loopback(args.host):
        raise SystemExit(
            f"parta: listening on {args.host} (not only this machine), parta must know the "
            "address people open it at, for its links and to refuse requests naming any "
            "other: give --public-url, e.g. --public-url https://parta.school.example"
        )
    if args.redis_url and not (args.database_url or "").startswith("postgresql"):
        raise SystemExit(
            "parta: a cluster (--redis-url) keeps its data in one PostgreSQL that every node "
            "shares: give --database-url postgresql+asyncpg://... (SQLite is one node's own)"
        )
    return Config(
        redis_url=args.redis_url,
        node_id=args.node_id,
        job_claim_after=args.job_claim_after,
        speech_model=speech_model,
        transcribers=args.transcribers,
        transcriber_threads=args.transcriber_threads,
        model_cache=args.model_cache or models.default_cache_dir(),
        database_url=args.database_url,
        max_upload_bytes=max_upload,
        org_quota_bytes=quota,
        smtp=smtp,
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        log_level=args.log_level,
        ice_addresses=addresses,
        announced_addresses=tuple(args.announced_addresses or ()),
        rtc_port_min=port_min,
        rtc_port_max=port_max,
        ice_servers=ice_servers,
        bearer_token=args.bearer_token,
        public_url=args.public_url,
        allowed_origins=tuple(args.allowed_origins or ()),
        trusted_proxies=tuple(args.trusted_proxies or ()),
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    config = config_from_args(args)
    if args.command == "reset-link":
        try:
            link, expires = asyncio.run(
                operator_reset_link(
                    config.data_dir, config.database_url, config.base_url, args.login
                )
            )
        except NoSuchUser:
            raise SystemExit(f"parta: no user has the login {args.login!r}") from None
        print(link)
        print(f"parta: the link works once, until {expires:%Y-%m-%d %H:%M} UTC", file=sys.stderr)
        return
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # aiortc and aioice are chatty at info level about every connection
    for name in ("aioice", "aiortc"):
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))
    print(
        f"parta: open http://{config.host}:{config.port}/ in a browser", file=sys.stderr, flush=True
    )
    web.run_app(create_app(config), host=config.host, port=config.port, print=None)


if __name__ == "__main__":
    main()
