// One participant's call: the WebSocket protocol of calls/PROTOCOL.md and the two
// peer connections (publish: we offer; subscribe: the server offers).
//
// CallSession holds the state and the lifecycle; its methods live by concern in session/:
//   socket.js       the WebSocket: connect, join, ping, reconnect with backoff
//   messages.js     the server's messages by type: joined, waiting, errors, peers
//   media.js        our microphone, camera and screen share
//   connections.js  the two peer connections: configuration, ICE, failure, closing
//   publish.js      sending our tracks (publish / publish_answer) and mute state
//   subscribe.js    receiving: subscribe_offer, and which track is whose
//   hosting.js      roles, host controls, the waiting room and the invite link
//   recording.js    starting and stopping a recording
//   broadcast.js    broadcasting live: start, stop, the watch link, viewer counts
//   common.js, stored.js  what they share; what the browser remembers per call

import { toasts } from '../shared/ui.js';
import { StaleError } from './session/common.js';
import { loadHostToken, loadLink } from './session/stored.js';
import { socketMethods } from './session/socket.js';
import { messageMethods } from './session/messages.js';
import { mediaMethods } from './session/media.js';
import { connectionMethods } from './session/connections.js';
import { publishMethods } from './session/publish.js';
import { subscribeMethods } from './session/subscribe.js';
import { hostMethods } from './session/hosting.js';
import { recordingMethods } from './session/recording.js';
import { broadcastMethods } from './session/broadcast.js';

export { ROLES, SOURCES, isHostRole } from './session/common.js';
export { loadHostToken, loadLink, saveHostToken, saveLink } from './session/stored.js';

export class CallSession {
  /**
   * `view` has render(), setStatus(status), onLeft(). `link` (an invite link's token) and
   * `hostToken` (a host token or an organiser's host key) come from the page address;
   * without them, those stored for this call are used.
   */
  constructor(call, name, view, { link = null, hostToken = null } = {}) {
    this.call = call;
    this.name = name;
    this.view = view;
    this.link = link || loadLink(call);
    this.hostToken = hostToken || loadHostToken(call);
    this.hadLink = false; // refused with bad_link: whether we had tried a link at all
    this.inviteLink = null; // hosts: the path of the call's invite link (null: turned off)

    this.ws = null;
    this.peerId = null;
    this.peers = new Map(); // the others: id -> {id, name, tracks}
    this.self = null; // our own peer as the server last described it
    this.activeSpeaker = null;
    this.connected = false; // socket open and `joined` received
    this.everJoined = false;
    this.leaving = false;
    this.iceServers = [];

    // Host controls and the waiting room (PROTOCOL.md).
    this.role = 'participant';
    this.waiting = false; // we are in the waiting room: no media until a host admits us
    this.waitingList = []; // hosts: [{id, name}] in order of arrival
    this.waitingRoom = false; // whether the call's waiting room is on (as last told)
    this.locked = new Set(); // our sources a host keeps off
    this.title = null; // a scheduled lesson's title, from `waiting`
    this.over = null; // 'removed' | 'ended' | 'denied': this session is finished for good
    this.endedByMe = false;
    this.pendingUnmute = null; // the source of our last `mute {muted: false}`
    this.recording = false; // the call is being recorded (`joined.recording`, `recording`)
    this.recordingBy = null; // who started it (peer id), when known
    this.recordingBusy = false; // our start_recording / stop_recording awaits its answer
    this.recordingTimer = null;
    // Broadcasting live (`joined.broadcasting`, `broadcast`); hosts also get the watch link
    // (`broadcast_link`) and the viewer counts (`broadcast_viewers`).
    this.broadcasting = false;
    this.broadcastPublic = false;
    this.broadcastBy = null; // who started it (peer id), when known
    this.watchLink = null; // hosts: "/watch/<token>" while live
    this.broadcastViewers = { webrtc: 0, hls: 0 };
    this.broadcastBusy = null; // 'start_broadcast' | 'stop_broadcast' | 'new_watch_link' awaiting its answer
    this.broadcastTimer = null;

    this.local = { microphone: null, camera: null, screen: null }; // MediaStreamTrack
    this.muted = { microphone: false, camera: false };
    this.localStream = new MediaStream();
    this.screenStream = null;
    this.mediaReady = false;

    this.pubPc = null;
    this.pubTx = {}; // source -> RTCRtpTransceiver on the publish connection
    this.published = []; // [{mid, source}] acknowledged by publish_answer
    this.toldMuted = {}; // source -> muted, as last sent to the server for this join
    this.publishBusy = false;
    this.publishAgain = false;
    this.pendingAnswer = null;

    this.subPc = null;
    this.subTracks = new Map(); // mid -> {mid, track_id, peer_id, kind, source}
    this.msidOfMid = new Map(); // mid -> stream id (= peer id), only as a fallback
    this.remote = new Map(); // peer id -> {source: {track, mid, trackId, kind}}
    this.subChain = Promise.resolve();
    this.watchedTracks = new WeakSet();

    this.attempt = 0;
    this.retryTimer = null;
    this.pingTimer = null;
    this.pongDeadline = null;
    this.mediaFailures = 0;
    this.status = 'connecting';
  }

  // ---- lifecycle -------------------------------------------------------------------

  async start() {
    this.setStatus('devices');
    await this.acquireInitialMedia();
    if (this.leaving) return;
    this.connect();
  }

  leave() {
    if (this.leaving) return;
    this.leaving = true;
    if (this.connected || this.waiting) this.send({ type: 'leave' });
    this.waiting = false;
    this.closeSocket();
    this.closePeerConnections();
    this.failPending(new StaleError('left'));
    clearTimeout(this.retryTimer);
    for (const track of Object.values(this.local)) track?.stop();
    this.local = { microphone: null, camera: null, screen: null };
    toasts.clear(); // what they said was about the call just left
    this.connected = false;
    this.view.onLeft();
  }

  /** Best effort when the tab closes: the server learns it at once, not at socket timeout. */
  leaveOnUnload() {
    if (this.connected || this.waiting) this.send({ type: 'leave' });
  }

  /**
   * The server ended this session for good (removed, call ended, not let in): no
   * reconnection, no "Rejoin"; the view shows why.
   */
  finish(reason, by = null) {
    if (this.leaving) return;
    this.leaving = true;
    this.over = reason;
    this.endedByMe = by != null && by === this.peerId;
    this.closeSocket();
    this.closePeerConnections();
    this.failPending(new StaleError(reason));
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    for (const track of Object.values(this.local)) track?.stop();
    this.local = { microphone: null, camera: null, screen: null };
    toasts.clear();
    this.connected = false;
    this.waiting = false;
    this.view.onOver(reason);
  }

  setStatus(status) {
    this.status = status;
    this.view.setStatus(status);
  }

  // ---- for tests and the view --------------------------------------------------

  snapshot() {
    return {
      call: this.call,
      name: this.name,
      peerId: this.peerId,
      connected: this.connected,
      status: this.status,
      activeSpeaker: this.activeSpeaker,
      title: this.title,
      role: this.role,
      inviteLink: this.inviteUrl(),
      waiting: this.waiting,
      waitingRoom: this.waitingRoom,
      recording: this.recording,
      recordingBy: this.recordingBy,
      recordingBusy: this.recordingBusy,
      broadcasting: this.broadcasting,
      broadcastPublic: this.broadcastPublic,
      broadcastBy: this.broadcastBy,
      watchLink: this.watchUrl(),
      broadcastViewers: { ...this.broadcastViewers },
      broadcastBusy: this.broadcastBusy,
      waitingList: this.waitingList.map((p) => ({ ...p })),
      locked: [...this.locked],
      peers: [...this.peers.values()].map((peer) => ({
        id: peer.id,
        name: peer.name,
        role: peer.role,
        locked: [...peer.locked],
        tracks: peer.tracks.map((tr) => ({ ...tr })),
        receiving: Object.keys(this.remote.get(peer.id) ?? {}),
      })),
      local: {
        microphone: { present: !!this.local.microphone, muted: this.muted.microphone },
        camera: { present: !!this.local.camera, muted: this.muted.camera },
        screen: { present: !!this.local.screen },
      },
      publishing: this.published.map((tr) => ({ ...tr })),
    };
  }

  async stats() {
    const result = {
      framesDecoded: 0,
      totalSamplesReceived: 0,
      bytesReceived: { audio: 0, video: 0 },
      bytesSent: 0,
      inbound: [],
      outbound: [],
    };
    const sub = this.subPc;
    if (sub) {
      const midOfTrack = new Map(sub.getTransceivers().map((tx) => [tx.receiver.track.id, tx.mid]));
      const report = await sub.getStats();
      report.forEach((st) => {
        if (st.type !== 'inbound-rtp') return;
        const kind = st.kind ?? st.mediaType;
        const mid = st.mid ?? midOfTrack.get(st.trackIdentifier) ?? null;
        const info = mid == null ? undefined : this.subTracks.get(mid);
        const bytes = st.bytesReceived ?? 0;
        result.bytesReceived[kind] = (result.bytesReceived[kind] ?? 0) + bytes;
        if (kind === 'video') result.framesDecoded += st.framesDecoded ?? 0;
        if (kind === 'audio') result.totalSamplesReceived += st.totalSamplesReceived ?? 0;
        result.inbound.push({
          mid,
          kind,
          peerId: info ? String(info.peer_id) : null,
          source: info?.source ?? null,
          bytesReceived: bytes,
          framesDecoded: st.framesDecoded ?? 0,
          totalSamplesReceived: st.totalSamplesReceived ?? 0,
          frameWidth: st.frameWidth ?? 0,
          frameHeight: st.frameHeight ?? 0,
        });
      });
    }
    const pub = this.pubPc;
    if (pub) {
      const report = await pub.getStats();
      report.forEach((st) => {
        if (st.type !== 'outbound-rtp') return;
        const source = this.published.find((tr) => tr.mid === st.mid)?.source ?? null;
        result.bytesSent += st.bytesSent ?? 0;
        result.outbound.push({
          mid: st.mid ?? null,
          kind: st.kind ?? st.mediaType,
          source,
          bytesSent: st.bytesSent ?? 0,
          framesEncoded: st.framesEncoded ?? 0,
        });
      });
    }
    return result;
  }
}

// The rest of CallSession, by concern: each part is a set of its methods, on the same
// object (`this`), whose state the constructor above lists.
Object.assign(
  CallSession.prototype,
  socketMethods,
  messageMethods,
  mediaMethods,
  connectionMethods,
  publishMethods,
  subscribeMethods,
  hostMethods,
  recordingMethods,
  broadcastMethods,
);
