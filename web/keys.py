"""Every piece of application state hangs off the aiohttp app under one of these keys."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from accounts.limits import FailureLimiter
from accounts.sessions import Sessions
from broadcast.edges import Edges
from broadcast.service import Broadcasts
from calls.recordings import Recordings
from calls.service import Calls
from chat.hub import Hub
from chat.service import ChatService
from chat.uploads import Uploads
from cluster.nodes import Cluster
from lessons.reminders import Reminders
from lessons.service import Lessons
from metrics.events import Metrics
from sfu.worker import Worker
from store.accounts import AccountStore
from store.calls import CallStore
from store.chats import ChatStore
from store.files import FileStore
from store.history import HistoryStore
from store.recordings import RecordingStore
from store.schedules import ScheduleStore
from transcription.queue import Transcription
from web.config import Config
from web.site import Site

CONFIG = web.AppKey("config", Config)
SITE = web.AppKey("site", Site)  # where parta is opened: hosts, origins, links' base
ENGINE = web.AppKey("engine", AsyncEngine)
WORKER = web.AppKey("worker", Worker)
CALLS = web.AppKey("calls", Calls)
METRICS = web.AppKey("metrics", Metrics)
READY = web.AppKey("ready", dict)
BACKGROUND = web.AppKey("background", set)
SCHEDULES = web.AppKey("schedules", ScheduleStore)
HISTORY = web.AppKey("history", HistoryStore)
REMINDERS = web.AppKey("reminders", Reminders)
LESSONS = web.AppKey("lessons", Lessons)
CALL_STORE = web.AppKey("call_store", CallStore)
SOCKETS = web.AppKey("sockets", set)  # open WebSocketResponses
ACCOUNTS = web.AppKey("accounts", AccountStore)
SESSIONS = web.AppKey("sessions", Sessions)
CHATS = web.AppKey("chats", ChatStore)
HUB = web.AppKey("hub", Hub)
CHAT_SERVICE = web.AppKey("chat_service", ChatService)
UPLOADS = web.AppKey("uploads", Uploads)
FILES = web.AppKey("files", FileStore)
LOGIN_LIMITER = web.AppKey("login_limiter", FailureLimiter)
RECORDINGS = web.AppKey("recordings", Recordings)
RECORDING_STORE = web.AppKey("recording_store", RecordingStore)
TRANSCRIPTION = web.AppKey("transcription", Transcription)  # absent when speech is off
BROADCASTS = web.AppKey("broadcasts", Broadcasts)
CLUSTER = web.AppKey("cluster", Cluster)  # absent on a single node
EDGES = web.AppKey("edges", Edges)  # absent on a single node
