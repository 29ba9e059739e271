"""What hosts are doing with the call as a whole (recording it, broadcasting it), which
everyone in it is told at once and everyone who comes in finds in `joined`."""

from __future__ import annotations

from calls.protocol import BroadcastLink, BroadcastState, RecordingState
from calls.roster import Roster


class Status:
    """Recording and broadcasting, as the call's people are told of them. Recordings
    (calls/recordings.py) and Broadcasts (broadcast/service.py) report here."""

    def __init__(self, roster: Roster) -> None:
        self._roster = roster
        self.recording = False  # a host is recording the call
        self.broadcasting = False  # a host is broadcasting it
        self.broadcast_public = False
        self.watch_link: str | None = None  # the broadcast's, for hosts

    def recording_changed(self, on: bool, by: str | None) -> None:
        """Recording started (`on`) or stopped, by peer `by` (None: by HTTP, or the end)."""
        self.recording = on
        self._roster.broadcast(RecordingState(on=on, by=by), skip=None)

    def broadcast_started(self, by: str | None, *, public: bool, watch_link: str) -> None:
        self.broadcasting, self.broadcast_public = True, public
        self.watch_link = watch_link
        self._roster.broadcast(BroadcastState(on=True, by=by, public=public), skip=None)
        self._roster.tell_hosts(BroadcastLink(watch_link=watch_link, public=public))

    def broadcast_stopped(self, by: str | None, *, public: bool) -> None:
        # (broadcast_public stays as it was: `joined` has always told it so)
        self.broadcasting = False
        self.watch_link = None
        self._roster.broadcast(BroadcastState(on=False, by=by, public=public), skip=None)
        self._roster.tell_hosts(BroadcastLink(watch_link=None))

    def watch_link_changed(self, watch_link: str, *, public: bool) -> None:
        self.watch_link = watch_link
        self._roster.tell_hosts(BroadcastLink(watch_link=watch_link, public=public))
