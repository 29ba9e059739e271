"""Server configuration: what `parta serve` takes, with embedded defaults."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from aiortc import RTCIceServer

from accounts.limits import LoginLimits
from lessons.invites import SmtpSettings
from sfu.aiortc_seam import IcePolicy
from sfu.transport import TransportSettings
from transcriber.models import default_cache_dir


@dataclass(frozen=True)
class IceServer:
    """An ICE server given to the server's peers and, through `joined`, to browsers."""

    urls: str
    username: str | None = None
    credential: str | None = None

    def as_dict(self) -> dict[str, str]:
        out = {"urls": self.urls}
        if self.username is not None:
            out["username"] = self.username
        if self.credential is not None:
            out["credential"] = self.credential
        return out

    @classmethod
    def parse(cls, text: str) -> IceServer:
        """`turn:host:3478?transport=udp,user,pass` or `stun:host:3478`."""
        parts = text.split(",")
        if len(parts) == 1:
            return cls(urls=parts[0])
        if len(parts) == 3:
            return cls(urls=parts[0], username=parts[1], credential=parts[2])
        raise ValueError("an ICE server is URL or URL,username,credential")


def trusted_proxy(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """`127.0.0.1`, `10.0.0.0/8` or `fd00::/8`: a proxy (or proxies) whose
    X-Forwarded-For is believed."""
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise ValueError(f"{text!r} is not an IP address or network") from None


@dataclass(frozen=True)
class Config:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("data")
    log_level: str = "info"
    ice_addresses: tuple[str, ...] = ("127.0.0.1",)
    announced_addresses: tuple[str, ...] = ()
    rtc_port_min: int = 0
    rtc_port_max: int = 0
    ice_servers: tuple[IceServer, ...] = ()
    bearer_token: str | None = None
    max_incoming_bitrate: int = 3_000_000
    subscribe_answer_timeout: float = 20.0
    database_url: str | None = None  # default: SQLite in data_dir
    smtp: SmtpSettings | None = None  # invitations by e-mail; else offered as .eml
    public_url: str | None = None  # where people open parta; default http://host:port
    # other origins people open this server at (a balancer's name): answered, may post
    allowed_origins: tuple[str, ...] = ()
    max_upload_bytes: int = 16 * 1024**3  # one file
    org_quota_bytes: int = 500 * 1024**3  # all of a school's files
    # speech to text: a packaged model's name or a model directory; None: off
    speech_model: str | None = "base"
    # two single-threaded processes took 38% more voice messages a minute than one with
    # two threads on 2 cores (benchmarks/results/transcription-default.json)
    transcribers: int = 2  # processes
    transcriber_threads: int = 1  # each
    model_cache: Path = field(default_factory=default_cache_dir)
    transcription_backlog: int = 10_000  # jobs waiting, beyond which new ones are refused
    # a cluster: several nodes on one Redis and one PostgreSQL (None: a single node)
    redis_url: str | None = None
    node_id: str | None = None  # default: host and port
    # a cluster's job left this long unrenewed by its node is taken over by another
    job_claim_after: float = 30.0
    # reverse proxies in front whose X-Forwarded-For names the client (web.forwarded)
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    login_limits: LoginLimits = field(default_factory=LoginLimits)
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def transport_settings(self) -> TransportSettings:
        return TransportSettings(
            ice=IcePolicy(
                addresses=self.ice_addresses,
                announced=self.announced_addresses,
                port_min=self.rtc_port_min,
                port_max=self.rtc_port_max,
            ),
            ice_servers=tuple(
                RTCIceServer(urls=s.urls, username=s.username, credential=s.credential)
                for s in self.ice_servers
            ),
            max_incoming_bitrate=self.max_incoming_bitrate,
        )
