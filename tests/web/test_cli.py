"""`parta serve`, as the README's first command runs it."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from harness.server import wait_ready
from web.cli import ENVIRONMENT, build_parser, config_from_args, parse_args


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_help_explains_every_option() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "web.cli", "serve", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    for option in (
        "--host",
        "--port",
        "--data-dir",
        "--log-level",
        "--ice-address",
        "--rtc-ports",
        "--speech-model",
        "--transcribers",
        "--trusted-proxy",
    ):
        assert option in result.stdout


def test_bad_options_are_refused_clearly() -> None:
    parser = build_parser()
    with pytest.raises(SystemExit, match="not an IP address"):
        config_from_args(parser.parse_args(["serve", "--ice-address", "example.com"]))
    with pytest.raises(SystemExit, match="MIN-MAX"):
        config_from_args(parser.parse_args(["serve", "--rtc-ports", "lots"]))
    config = config_from_args(parser.parse_args(["serve", "--rtc-ports", "40000-40100"]))
    assert (config.rtc_port_min, config.rtc_port_max) == (40000, 40100)
    assert config.ice_addresses == ("127.0.0.1",)
    assert config.max_upload_bytes == 16 * 1024**3
    config = config_from_args(
        parser.parse_args(["serve", "--max-upload-size", "500M", "--org-quota", "2T"])
    )
    assert (config.max_upload_bytes, config.org_quota_bytes) == (500 * 1024**2, 2 * 1024**4)
    with pytest.raises(SystemExit, match="not a size"):
        config_from_args(parser.parse_args(["serve", "--org-quota", "plenty"]))


def test_a_config_file_sets_options_under_the_environment_and_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ENVIRONMENT.values():
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "parta.toml"
    path.write_text(
        """
        port = 8090
        data-dir = "/srv/parta"
        log_level = "debug"
        ice-address = ["10.0.0.5", "10.0.1.5"]
        rtc-ports = "40000-40999"
        redis-url = "redis://10.0.0.2:6379/0"
        database-url = "postgresql+asyncpg://parta@10.0.0.3/parta"
        speech-model = "off"
        job-claim-after = 12
        """
    )
    config = config_from_args(parse_args(["serve", "--config", str(path), "--port", "9000"]))
    assert config.port == 9000  # the command line wins
    assert config.data_dir == Path("/srv/parta") and config.log_level == "debug"
    assert config.ice_addresses == ("10.0.0.5", "10.0.1.5")
    assert (config.rtc_port_min, config.rtc_port_max) == (40000, 40999)
    assert config.redis_url == "redis://10.0.0.2:6379/0" and config.speech_model is None
    assert config.job_claim_after == 12.0
    # a repeatable option given on the command line replaces the file's list
    args = ["serve", "--config", str(path), "--ice-address", "10.0.9.9"]
    assert config_from_args(parse_args(args)).ice_addresses == ("10.0.9.9",)
    # the environment wins over the file; PARTA_CONFIG names the file
    monkeypatch.setenv("PARTA_REDIS_URL", "redis://10.0.0.9:6379/0")
    monkeypatch.setenv("PARTA_CONFIG", str(path))
    config = config_from_args(parse_args(["serve"]))
    assert (config.redis_url, config.port) == ("redis://10.0.0.9:6379/0", 8090)


def test_trusted_proxies_from_the_command_line_the_environment_or_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ENVIRONMENT.values():
        monkeypatch.delenv(name, raising=False)
    assert config_from_args(parse_args(["serve"])).trusted_proxies == ()
    path = tmp_path / "parta.toml"
    path.write_text('trusted-proxy = ["10.0.0.0/8", "::1"]\n')
    in_file = ("10.0.0.0/8", "::1/128")
    config = config_from_args(parse_args(["serve", "--config", str(path)]))
    assert tuple(map(str, config.trusted_proxies)) == in_file
    monkeypatch.setenv("PARTA_TRUSTED_PROXIES", "127.0.0.1, 192.0.2.0/24")
    config = config_from_args(parse_args(["serve", "--config", str(path)]))
    assert tuple(map(str, config.trusted_proxies)) == ("127.0.0.1/32", "192.0.2.0/24")
    args = ["serve", "--config", str(path), "--trusted-proxy", "127.0.0.2"]
    args += ["--trusted-proxy", "fd00::/8"]
    config = config_from_args(parse_args(args))  # the command line wins
    assert tuple(map(str, config.trusted_proxies)) == ("127.0.0.2/32", "fd00::/8")
    monkeypatch.setenv("PARTA_TRUSTED_PROXIES", "nginx")
    with pytest.raises(SystemExit, match="PARTA_TRUSTED_PROXIES: 'nginx' is not an IP address"):
        parse_args(["serve"])
    path.write_text('trusted-proxy = "localhost"\n')
    monkeypatch.delenv("PARTA_TRUSTED_PROXIES")
    with pytest.raises(SystemExit, match="trusted-proxy: 'localhost' is not valid"):
        parse_args(["serve", "--config", str(path)])


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('colour = "blue"', "unknown option 'colour'"),
        ('port = "eighty"', "port: 'eighty' is not valid"),
        ("port = [1, 2]", "port is a string or a number"),
        ('log-level = "loud"', "log-level is one of debug, info, warning, error"),
        ("port = ", "not TOML"),
    ],
)
def test_a_bad_config_file_is_refused_clearly(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "parta.toml"
    path.write_text(text + "\n")
    with pytest.raises(SystemExit, match=f"--config {path}: .*{re.escape(says)}"):
        parse_args(["serve", "--config", str(path)])


def test_a_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="No such file"):
        parse_args(["serve", "--config", str(tmp_path / "nowhere.toml")])


def test_the_speech_model_is_chosen_or_turned_off(tmp_path: Path) -> None:
    parser = build_parser()
    config = config_from_args(parser.parse_args(["serve"]))
    assert config.speech_model == "base" and config.transcribers == 2
    config = config_from_args(
        parser.parse_args(
            ["serve", "--speech-model", "tiny.en", "--transcribers", "2", "--model-cache", "m"]
        )
    )
    assert (config.speech_model, config.transcribers, config.model_cache) == (
        "tiny.en",
        2,
        Path("m"),
    )
    assert (
        config_from_args(parser.parse_args(["serve", "--speech-model", "off"])).speech_model is None
    )
    with pytest.raises(SystemExit, match=r"no speech model 'large-v3'.*base, tiny\.en"):
        config_from_args(parser.parse_args(["serve", "--speech-model", "large-v3"]))
    with pytest.raises(SystemExit, match="at least 1"):
        config_from_args(parser.parse_args(["serve", "--transcriber-threads", "0"]))


async def test_voice_messages_are_not_transcribed_when_speech_is_off(tmp_path: Path) -> None:
    from tests.chat.school import make_school
    from tests.chat.test_http import class_chat
    from tests.chat.test_uploads import opus_in_ogg
    from tests.support.server import start_server
    from tests.support.tus import TusClient

    server = await start_server(tmp_path / "data", speech_model=None)
    try:
        async with aiohttp.ClientSession() as http:
            school = await make_school(http, str(server.make_url("/")), students=1)
            chat = await class_chat(school)
            pupil = school.students[0]
            tus = TusClient(http, school.base, pupil.token)
            file_id = await tus.upload(chat, opus_in_ogg(1.0), "v.ogg", "audio/ogg")
            body = {"kind": "voice", "file_id": file_id, "duration": 1.0}
            status, message = await school.call(pupil, "POST", f"api/chats/{chat}/messages", body)
            assert status == 201 and message["transcript_status"] is None
            metrics = await (await http.get(f"{school.base}metrics")).text()
            assert "parta_transcription_backlog" not in metrics
    finally:
        await server.close()


async def test_serve_starts_and_stops(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "parta.toml"  # the data directory from a config file
    config.write_text(f'data-dir = "{tmp_path / "d"}"\nport = 1\n')
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "web.cli", "serve", "--config", str(config)),
            *("--port", str(port)),  # the command line wins
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        async with aiohttp.ClientSession() as http:
            await wait_ready(
                http,
                f"http://127.0.0.1:{port}",
                lambda: None if process.poll() is None else "exited",
                10,
            )
            async with http.get(f"http://127.0.0.1:{port}/call/lesson-1") as response:
                assert response.status == 200  # the log-in page, on the way to the call
                assert str(response.url).endswith("/login?next=/call/lesson-1")
                assert "<html" in (await response.text()).lower()
        assert (tmp_path / "d").is_dir()
    finally:
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=10)[0].decode()
    assert process.returncode == 0, output
    assert f"http://127.0.0.1:{port}/" in output


def test_the_readmes_config_file_is_one_parta_reads(tmp_path: Path) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    example = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "node1.toml"
    path.write_text(example)
    config = config_from_args(parse_args(["serve", "--config", str(path)]))
    assert (config.host, config.port, config.node_id) == ("0.0.0.0", 8081, "node1")
    assert config.redis_url is not None and config.ice_addresses == ("10.0.0.11",)
