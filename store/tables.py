"""Table definitions (SQLAlchemy Core). Change them only together with a migration."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

scheduled_calls = Table(
    "scheduled_calls",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("call_id", String(64), nullable=False, unique=True),
    Column("title", String(128), nullable=False),
    Column("start_local", String(32), nullable=False),  # ISO wall time in time_zone
    Column("time_zone", String(64), nullable=False),
    Column("duration_seconds", Integer, nullable=True),  # NULL: all day
    Column("rrule", Text, nullable=True),
    Column("reminders_seconds", JSON, nullable=False),
    Column("waiting_room", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column(
        "created_by",
        String(32),
        ForeignKey("users.id", name="fk_scheduled_calls_created_by"),
        nullable=True,  # NULL: scheduled before accounts existed
        index=True,
    ),
    Column(
        "chat_id",
        String(32),
        ForeignKey("chats.id", name="fk_scheduled_calls_chat_id"),
        nullable=True,  # NULL: on one's own behalf
        index=True,
    ),
)

# every call's access settings: scheduled calls' for good, ad-hoc calls' while they live
calls = Table(
    "calls",
    metadata,
    Column("call_id", String(64), primary_key=True),
    Column("title", String(128), nullable=False),
    Column("waiting_room", Boolean, nullable=False),
    Column("link_token", String(64), nullable=True, unique=True, index=True),  # NULL: revoked
    Column("scheduled", Boolean, nullable=False),
    Column("host_tokens", JSON, nullable=False),  # SHA-256 of each host token -> role
    Column("ended_until", Float, nullable=True),  # Unix time; NULL: not ended
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# who was invited by e-mail, to be reminded in their own time zone
call_invitees = Table(
    "call_invitees",
    metadata,
    Column("schedule_id", String(64), ForeignKey("scheduled_calls.id"), nullable=False),
    Column("email", String(254), nullable=False),
    Column("time_zone", String(64), nullable=False),
    Column("invited_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("schedule_id", "email"),
)

# one row per reminder instant dispatched: a restart never sends one twice
reminders_sent = Table(
    "reminders_sent",
    metadata,
    Column("schedule_id", String(64), ForeignKey("scheduled_calls.id"), nullable=False),
    Column("remind_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=False),
    Column("recipients", Integer, nullable=False),
    PrimaryKeyConstraint("schedule_id", "remind_at"),
)


call_history = Table(
    "call_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("call_id", String(64), nullable=False, index=True),
    Column("title", String(128), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=False),
    Column("participants", JSON, nullable=False),  # names, in order of joining
    Column("ended_by_host", Boolean, nullable=False),
    Column("user_ids", JSON, nullable=True),  # the accounts that took part
)

# -- accounts, organisations and educational profiles ---------------------------------

users = Table(
    "users",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("login", String(64), nullable=False, unique=True),  # lower case
    Column("password_hash", String(255), nullable=False),  # Argon2id, PHC string
    Column("display_name", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # SHA-256 of the session token
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
)

password_resets = Table(
    "password_resets",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # SHA-256 of the link's token
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    # the admin who made it; None: the server's operator (parta reset-link)
    Column("created_by", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    # the school whose admin made it (None: the operator); good only while the user
    # belongs to no other school
    Column(
        "org_id",
        String(32),
        ForeignKey("organisations.id", ondelete="CASCADE", name="fk_password_resets_org_id"),
        nullable=True,
    ),
    Index("ix_password_resets_user_id", "user_id"),
)

organisations = Table(
    "organisations",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("created_by", String(32), ForeignKey("users.id"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

org_admins = Table(
    "org_admins",
    metadata,
    Column("org_id", String(32), ForeignKey("organisations.id"), nullable=False),
    Column("user_id", String(32), ForeignKey("users.id"), nullable=False),
    PrimaryKeyConstraint("org_id", "user_id"),
)

# an organisation's invite codes, one per role a newcomer takes with it
org_invites = Table(
    "org_invites",
    metadata,
    Column("code", String(32), primary_key=True),
    Column("org_id", String(32), ForeignKey("organisations.id"), nullable=False, index=True),
    Column("role", String(16), nullable=False),  # teacher, student, parent
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked", Boolean, nullable=False),
)

profiles = Table(
    "profiles",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("org_id", String(32), ForeignKey("organisations.id"), nullable=False, index=True),
    Column("user_id", String(32), ForeignKey("users.id"), nullable=False, index=True),
    Column("role", String(16), nullable=False),  # teacher, student, parent
    Column("full_name", String(128), nullable=False),
    Column("class_name", String(32), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("org_id", "user_id", name="uq_profiles_org_user"),
)

# -- chats ---------------------------------------------------------------------------------

chats = Table(
    "chats",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("org_id", String(32), ForeignKey("organisations.id"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # group, channel
    Column("title", String(128), nullable=False),
    Column("public", Boolean, nullable=False),  # members of the organisation join freely
    Column("invite_code", String(32), nullable=True, unique=True),
    Column("created_by", String(32), ForeignKey("profiles.id"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_seq", BigInteger, nullable=False),  # the newest message's number
)

folders = Table(
    "folders",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id"), nullable=False, index=True),
    Column("name", String(64), nullable=False),
    Column("position", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# membership, with each member's own view of the chat
chat_members = Table(
    "chat_members",
    metadata,
    Column("chat_id", String(32), ForeignKey("chats.id"), nullable=False),
    Column("profile_id", String(32), ForeignKey("profiles.id"), nullable=False, index=True),
    Column("role", String(16), nullable=False),  # owner, admin, member
    Column("joined_at", DateTime(timezone=True), nullable=False),
    Column("last_read_seq", BigInteger, nullable=False),
    Column("marked_unread", Boolean, nullable=False),
    Column("archived", Boolean, nullable=False),
    Column("pinned_order", Integer, nullable=True),  # NULL: not pinned
    Column("folder_id", String(32), ForeignKey("folders.id", ondelete="SET NULL"), nullable=True),
    Column("muted_until", DateTime(timezone=True), nullable=True),
    Column("cleared_seq", BigInteger, nullable=False),  # "clear history" for this member
    PrimaryKeyConstraint("chat_id", "profile_id"),
)

files = Table(
    "files",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("org_id", String(32), ForeignKey("organisations.id"), nullable=False, index=True),
    Column("chat_id", String(32), ForeignKey("chats.id"), nullable=False, index=True),
    Column("uploader_id", String(32), ForeignKey("profiles.id"), nullable=False),
    Column("filename", String(255), nullable=False),
    Column("content_type", String(128), nullable=False),
    Column("length", BigInteger, nullable=False),  # the size announced (Upload-Length)
    Column("offset", BigInteger, nullable=False),  # bytes received so far
    Column("sha256", String(64), nullable=True),  # when complete
    Column("complete", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("completed_at", DateTime(timezone=True), nullable=True),
    # what the bytes are, if a type shown inline ("" if not; NULL: not looked at yet)
    Column("inline_type", String(32), nullable=True),
    # when bytes last came: unfinished uploads untouched for long expire
    Column("touched_at", DateTime(timezone=True), nullable=True, index=True),
)

messages = Table(
    "messages",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("chat_id", String(32), ForeignKey("chats.id"), nullable=False),
    Column("seq", BigInteger, nullable=False),  # 1, 2, ... within the chat
    Column("sender_id", String(32), ForeignKey("profiles.id"), nullable=True),  # NULL: system
    Column("kind", String(16), nullable=False),  # text, system, file, voice, recording
    Column("body", Text, nullable=False),
    Column("meta", JSON, nullable=False),  # system event, voice duration, ...
    Column("file_id", String(32), ForeignKey("files.id"), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("edited_at", DateTime(timezone=True), nullable=True),
    Column("deleted_at", DateTime(timezone=True), nullable=True),
    Column("transcript", Text, nullable=True),  # voice messages, once transcribed
    Column("transcript_status", String(16), nullable=True),  # pending, done, failed
    Column("transcript_language", String(8), nullable=True),  # as detected
    Column("transcript_reason", Text, nullable=True),  # why it failed
    UniqueConstraint("chat_id", "seq", name="uq_messages_chat_seq"),
)

# a teacher's working hours: outside them notifications are delivered silently
quiet_hours = Table(
    "quiet_hours",
    metadata,
    Column("profile_id", String(32), ForeignKey("profiles.id"), primary_key=True),
    Column("days", JSON, nullable=False),  # ISO weekdays 1-7 that are working days
    Column("start_minute", Integer, nullable=False),  # working hours, minutes after 00:00
    Column("end_minute", Integer, nullable=False),
    Column("time_zone", String(64), nullable=False),
)

# recordings of calls; the file is in <data dir>/recordings, and in the call's chat
# (as one of its files) when the call was scheduled on behalf of one
recordings = Table(
    "recordings",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("call_id", String(64), nullable=False, index=True),
    Column("title", String(128), nullable=False),
    Column("filename", String(255), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("duration_seconds", Float, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("user_ids", JSON, nullable=False),  # who took part while it was recorded
    Column("chat_id", String(32), ForeignKey("chats.id"), nullable=True),
    Column("file_id", String(32), ForeignKey("files.id"), nullable=True),
    Column("message_id", String(32), nullable=True),
    # WebVTT captions, <file name>.vtt beside the recording: pending, done, failed
    Column("captions_status", String(16), nullable=True),
    Column("captions_reason", Text, nullable=True),
    Column("captions_language", String(8), nullable=True),
)

# speech to text to do: a voice message's transcript or a recording's captions. The
# queue is the table: a server takes pending jobs in order and finds them again after a
# restart (a job left "running" by a process that stopped is pending again)
transcription_jobs = Table(
    "transcription_jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(16), nullable=False),  # voice, recording
    Column("target_id", String(32), nullable=False),  # the message or the recording
    Column("path", Text, nullable=False),  # the audio
    Column("status", String(16), nullable=False),  # pending, running, done, failed
    Column("attempts", Integer, nullable=False),
    Column("reason", Text, nullable=True),  # why the last attempt failed
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("not_before", DateTime(timezone=True), nullable=False),  # retry after
    Index("ix_transcription_jobs_status", "status", "not_before"),
)
