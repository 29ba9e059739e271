"""The aiohttp application factory: state under typed keys, resources in cleanup_ctx."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

from aiohttp import web
from redis.asyncio import Redis

from accounts.limits import FailureLimiter
from accounts.sessions import Sessions
from broadcast.edges import Edges
from broadcast.metrics import BroadcastCollector, EdgeCollector
from broadcast.service import Broadcasts
from calls.metrics import MediaCollector
from calls.recordings import Recordings
from calls.room import Room
from calls.service import Calls
from chat.bus import Bus, stop_tasks
from chat.focus import LocalFocus
from chat.hub import Hub
from chat.service import ChatService
from chat.uploads import Uploads
from cluster.bus import RedisBus
from cluster.focus import SharedFocus
from cluster.jobs import StreamJobs
from cluster.nodes import Cluster
from lessons.reminders import Reminders
from lessons.service import Lessons
from metrics.events import Metrics
from model.access import CallAccess, join_path
from model.schedule import Reminder
from sfu.worker import Worker
from store.accounts import AccountStore
from store.calls import CallStore
from store.chats import ChatStore, Message, MessageDraft
from store.database import default_url, migrate, open_engine
from store.files import FileStore
from store.history import HistoryStore, PastCall
from store.recordings import RecordingStore
from store.schedules import ScheduleStore, StoredSchedule
from store.transcriptions import TranscriptionStore
from transcriber.pool import Pool, PoolSettings
from transcription import landing
from transcription.queue import STREAM_WAIT, Transcription, TranscriptionMetrics
from web import auth, errors, guard, keys, openapi
from web.config import Config
from web.http import accounts as account_api
from web.http import chats as chat_api
from web.http import events as chat_events
from web.http import lessons as scheduling
from web.http import links, pages, watch, whip, ws
from web.http import passwords as resets
from web.http import recordings as recording_api
from web.http import uploads as tus
from web.site import Site

logger = logging.getLogger(__name__)


def create_app(config: Config) -> web.Application:
    app = web.Application(
        client_max_size=1024 * 1024,
        middlewares=[
            guard.unexpected,
            guard.known_host,
            guard.same_origin,
            errors.refusals,
            auth.middleware(lambda app: app[keys.SESSIONS], _count_refused, _redeem),
        ],
    )
    app[keys.CONFIG] = config
    app[keys.SITE] = Site.of(
        config.public_url, config.allowed_origins, cluster=config.redis_url is not None
    )
    app[keys.METRICS] = Metrics()
    app[keys.READY] = {"ready": False}
    app[keys.BACKGROUND] = set()
    app[keys.SOCKETS] = set()
    app[keys.LOGIN_LIMITER] = FailureLimiter(config.login_limits)
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(tus.sweeping)
    app.cleanup_ctx.append(_chat)
    app.cleanup_ctx.append(_media_plane)
    app.cleanup_ctx.append(_cluster)
    app.cleanup_ctx.append(_transcription)
    app.on_shutdown.append(_stopping)
    app.on_response_prepare.append(pages.revalidate_static)
    # a user's file gets its own policy first; the guard leaves a policy already set
    app.on_response_prepare.append(tus.user_content_headers)
    app.on_response_prepare.append(guard.security_headers)
    setup_routes(app)
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    config = app[keys.CONFIG]
    config.data_dir.mkdir(parents=True, exist_ok=True)
    url = config.database_url or default_url(config.data_dir)
    await asyncio.to_thread(migrate, url)
    engine = open_engine(url)
    app[keys.ENGINE] = engine
    bad_rows = app[keys.METRICS].schedule_bad_rows
    app[keys.SCHEDULES] = ScheduleStore(engine, on_bad_row=lambda kind: bad_rows.labels(kind).inc())
    app[keys.HISTORY] = HistoryStore(engine)
    app[keys.CALL_STORE] = CallStore(engine)
    app[keys.ACCOUNTS] = AccountStore(engine)
    app[keys.SESSIONS] = Sessions(app[keys.ACCOUNTS], secure=config.base_url.startswith("https:"))
    app[keys.CHATS] = ChatStore(engine)
    app[keys.HUB] = Hub()
    app[keys.FILES] = FileStore(engine)
    app[keys.RECORDING_STORE] = RecordingStore(engine)
    app[keys.UPLOADS] = Uploads(
        config.data_dir / "files",
        max_size=config.max_upload_bytes,
        org_quota=config.org_quota_bytes,
    )
    yield
    await app[keys.HUB].close()
    await engine.dispose()


async def _chat(app: web.Application) -> AsyncIterator[None]:
    """The chat service, with its bus and focus for good: this node's hub alone, or (with
    --redis-url) the cluster's Redis too, whose node joins the cluster later (_cluster)."""
    config = app[keys.CONFIG]
    hub = app[keys.HUB]
    bus, focus = Bus(hub), LocalFocus()
    redis = None
    if config.redis_url is not None:
        # a connection that dies without a reset (a failover) errors, rather than hangs
        redis = Redis.from_url(
            config.redis_url, socket_timeout=10, socket_keepalive=True, health_check_interval=30
        )
        metrics = app[keys.METRICS].cluster
        cluster = Cluster(
            redis,
            config.node_id or f"{config.host}:{config.port}",
            config.base_url,
            lambda: (len(app[keys.CALLS].rooms), app[keys.CALLS].peer_count()),
            lambda: list(app[keys.CALLS].rooms),
            metrics=metrics,
        )
        app[keys.CLUSTER] = cluster
        # chat events to members on every node
        bus = RedisBus(hub, redis, cluster.id, metrics, clock=cluster.clock.now)
        focus = SharedFocus(hub, redis, cluster.id, cluster.clock.now)
        await bus.start()
        await focus.start()
    app[keys.CHAT_SERVICE] = ChatService(
        app[keys.ACCOUNTS],
        app[keys.CHATS],
        bus,
        focus,
        # a voice message is transcribed here, or by a node of the cluster that can
        transcribes=config.speech_model is not None or redis is not None,
    )
    yield
    await focus.close()
    await bus.close()
    if redis is not None:
        await redis.aclose()


async def _media_plane(app: web.Application) -> AsyncIterator[None]:
    config = app[keys.CONFIG]
    config.data_dir.mkdir(parents=True, exist_ok=True)
    worker = Worker(config.transport_settings())
    call_store = app[keys.CALL_STORE]

    async def persist(call_id: str, access: CallAccess | None) -> None:
        await call_store.save(call_id, access, datetime.now(UTC))

    calls = Calls(
        worker,
        app[keys.METRICS],
        answer_timeout=config.subscribe_answer_timeout,
        ice_servers=[s.as_dict() for s in config.ice_servers],
        persist=persist,
    )
    app[keys.WORKER] = worker
    app[keys.CALLS] = calls
    recordings = Recordings(config.data_dir / "recordings", recording_api.lander(app))
    app[keys.RECORDINGS] = recordings
    recordings.on_decode_errors = app[keys.METRICS].decode_errors.labels("recording").inc

    async def finish_recording(room: Room) -> None:
        await recordings.stop(room, None, quiet=True)

    calls.before_close.append(finish_recording)
    broadcasts = Broadcasts(config.data_dir / "broadcasts")
    broadcasts.rooms = calls.rooms.get
    app[keys.BROADCASTS] = broadcasts
    metrics = app[keys.METRICS]
    broadcasts.on_encoded = metrics.segment_encode.observe
    broadcasts.on_decode_errors = metrics.decode_errors.labels("broadcast").inc
    metrics.decode_errors.labels("recording")  # shown at 0 before any
    metrics.registry.register(BroadcastCollector(broadcasts))

    async def finish_broadcast(room: Room) -> None:
        await broadcasts.stop(room, None, quiet=True)

    calls.before_close.append(finish_broadcast)
    metrics.registry.register(MediaCollector(worker, calls))
    calls.on_call_over = _recorder(app[keys.HISTORY])
    schedules = app[keys.SCHEDULES]
    for call_id, access in (await app[keys.CALL_STORE].load(datetime.now(UTC))).items():
        calls.add_access(call_id, access, store=False)
    reminders = Reminders(
        schedules,
        config.smtp,
        config.base_url,
        counter=app[keys.METRICS].reminders,
        link_of=lambda call_id: calls.access[call_id].link if call_id in calls.access else None,
        in_chat=_chat_reminder(app),
    )
    app[keys.REMINDERS] = reminders
    app[keys.LESSONS] = Lessons(schedules, app[keys.CHAT_SERVICE], calls, reminders)
    reminding = asyncio.create_task(reminders.run(), name="reminders")
    app[keys.READY]["ready"] = True
    yield
    app[keys.READY]["ready"] = False
    reminding.cancel()
    await asyncio.gather(reminding, return_exceptions=True)
    await broadcasts.close(calls.rooms)
    await calls.close()
    await worker.close()
    background = app[keys.BACKGROUND]
    for task in list(background):
        task.cancel()
    if background:
        await asyncio.gather(*background, return_exceptions=True)


async def _transcription(app: web.Application) -> AsyncIterator[None]:
    config = app[keys.CONFIG]
    cluster = app.get(keys.CLUSTER)
    if config.speech_model is None and cluster is None:
        yield
        return
    pool = None
    if config.speech_model is not None:
        pool = Pool(
            PoolSettings(
                model=config.speech_model,
                cache_dir=config.model_cache,
                workers=config.transcribers,
                threads=config.transcriber_threads,
            )
        )
    store = TranscriptionStore(app[keys.ENGINE])
    jobs = None
    cluster_metrics = app[keys.METRICS].cluster
    if cluster is not None:
        # a cluster's nodes share one queue; one without a transcriber only adds to it
        jobs = StreamJobs(
            store,
            cluster.redis,
            cluster.id,
            cluster_metrics,
            claim_after=config.job_claim_after,
            clock=cluster.clock.now,
        )
    service = app[keys.CHAT_SERVICE]
    transcription = Transcription(
        store,
        pool,
        TranscriptionMetrics(app[keys.METRICS].registry),
        handlers={
            "voice": landing.voice(service),
            "recording": landing.recording(
                service, app[keys.RECORDING_STORE], app[keys.RECORDINGS].directory
            ),
        },
        jobs=jobs,
        on_pending=None if cluster is None else cluster_metrics.jobs_pending.set,
        max_backlog=config.transcription_backlog,
    )
    app[keys.TRANSCRIPTION] = transcription
    uploads = app[keys.UPLOADS]

    async def posted(message: Message) -> None:
        if message.kind == "voice" and message.file_id is not None:
            await transcription.submit("voice", message.id, uploads.path(message.file_id))

    service.posted_listeners.append(posted)
    running = asyncio.create_task(transcription.run(), name="transcription")
    yield
    service.posted_listeners.remove(posted)
    transcription.stop()
    await stop_tasks([running], STREAM_WAIT + 2)
    await transcription.close()


async def _cluster(app: web.Application) -> AsyncIterator[None]:
    """Join the cluster (with --redis-url): heartbeat, load, the calls hosted here."""
    cluster = app.get(keys.CLUSTER)
    if cluster is None:
        yield
        return
    calls = app[keys.CALLS]
    await cluster.start()
    # broadcasts watched through other nodes
    edges = Edges(cluster.redis, cluster.id, app[keys.WORKER], app[keys.BROADCASTS])
    await edges.start()
    app[keys.BROADCASTS].listeners.append(edges.announce)
    app[keys.EDGES] = edges
    app[keys.METRICS].registry.register(EdgeCollector(edges))

    async def release(room: Room) -> None:
        await cluster.release(room.id)

    calls.before_close.append(release)
    yield
    await cluster.stop()  # drains: no new calls here, ours placed anew
    app[keys.BROADCASTS].listeners.remove(edges.announce)
    await edges.forget(list(app[keys.BROADCASTS].by_room.values()))
    await edges.close()


def _chat_reminder(
    app: web.Application,
) -> Callable[[StoredSchedule, Reminder], Awaitable[None]]:
    async def remind(stored: StoredSchedule, reminder: Reminder) -> None:
        assert stored.chat_id is not None
        access = app[keys.CALLS].access.get(stored.call_id)
        path = join_path(access.link if access else None)
        meta = {
            "event": "call_reminder",
            "schedule_id": stored.schedule.uid,
            "title": stored.schedule.title,
            "link": None if path is None else app[keys.CONFIG].base_url + path,
            "start": reminder.occurrence.start.isoformat(),
            "time_zone": stored.schedule.time_zone,
            "minutes_before": int(reminder.before.total_seconds() // 60),
        }
        draft = MessageDraft(kind="system", body="", sender_id=None, meta=meta)
        await app[keys.CHAT_SERVICE].notice(stored.chat_id, draft)

    return remind


async def _redeem(request: web.Request, ticket: str) -> str | None:
    cluster = request.app.get(keys.CLUSTER)
    return None if cluster is None else await cluster.redeem(ticket)


def _count_refused(request: web.Request) -> None:
    request.app[keys.METRICS].http_errors.labels(errors.endpoint_of(request), "401").inc()


async def _stopping(app: web.Application) -> None:
    # before aiohttp closes the WebSockets: the calls they were in are not over
    if keys.CALLS in app:
        app[keys.CALLS].stopping = True
    if keys.CLUSTER in app:  # hand our calls back first: their people rejoin elsewhere
        with contextlib.suppress(Exception):
            await asyncio.wait_for(app[keys.CLUSTER].drain(), 5)
    await ws.close_all(app)


def _recorder(history: HistoryStore) -> Callable[[Room], Awaitable[None]]:
    async def record(room: Room) -> None:
        came = room.roster  # who came in, and when the first did
        assert came.started_at is not None
        await history.add(
            PastCall(
                call_id=room.id,
                title=room.title,
                started_at=came.started_at,
                ended_at=datetime.now(UTC),
                participants=tuple(came.participants.values()),
                user_ids=tuple(came.user_ids),
                ended_by_host=room.ended,
            )
        )

    return record


def setup_routes(app: web.Application) -> None:
    """Every resource's routes, each module's own table."""
    for module in (
        pages, links, ws, whip, scheduling, account_api, resets, chat_api, chat_events, tus,
        recording_api, watch, openapi,
    ):  # fmt: skip
        app.router.add_routes(module.routes)
