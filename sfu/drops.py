"""Why an RTP packet was not forwarded: the reasons counted per subscriber (and for
the publisher's packets that could not be used), as `parta_packets_dropped{reason}`.

A subscriber's drop within one stream epoch leaves a gap in the sequence numbers it
receives (see `consumer.py`), so its NACK and its decoder see it too."""

# a subscriber's
WAITING_KEYFRAME = "waiting_keyframe"  # its stream starts (again) at a keyframe
PAUSED = "paused"  # a host muted the source
KEYFRAMES_ONLY = "keyframes_only"  # a stage viewer too slow for every frame, for now
NOT_CONNECTED = "not_connected"  # its transport is not (or no longer) connected
SEND_BUFFER_FULL = "send_buffer_full"  # the kernel refused it: never queued
SEND_ERROR = "send_error"  # any other error from sendto
NO_VIEWER = "no_viewer"  # a stage group's own: none of its viewers took the packet
# the publisher's
MALFORMED = "malformed"
UNKNOWN_SSRC = "unknown_ssrc"  # RTX or padding on an SSRC we do not forward
PAYLOAD_TYPE = "payload_type"  # not the payload type negotiated for its track

DROP_REASONS = (
    WAITING_KEYFRAME,
    PAUSED,
    KEYFRAMES_ONLY,
    NOT_CONNECTED,
    SEND_BUFFER_FULL,
    SEND_ERROR,
    MALFORMED,
    UNKNOWN_SSRC,
    PAYLOAD_TYPE,
)
