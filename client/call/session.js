// One participant's call: the WebSocket protocol of signalling/PROTOCOL.md and the two
// peer connections (publish: we offer; subscribe: the server offers).

import { t } from '../shared/strings.js';
import { announce, toasts } from '../shared/ui.js';

const PROTOCOL_VERSION = 1;
export const SOURCES = ['microphone', 'camera', 'screen'];
// Waits before each reconnection attempt; jittered so a restarted server is not hit by
// every client in the same millisecond.
const RETRY_DELAYS_MS = [1000, 2000, 4000, 8000, 16000];
const ICE_GATHER_TIMEOUT_MS = 5000;
const ANSWER_TIMEOUT_MS = 20000;
const PING_INTERVAL_MS = 20000;
const PONG_TIMEOUT_MS = 15000;
const MAX_MEDIA_FAILURES = 3;
// Enough for a face in a grid; without simulcast every viewer gets what we send.
const CAMERA_CONSTRAINTS = {
  width: { ideal: 960 },
  height: { ideal: 540 },
  frameRate: { ideal: 24, max: 30 },
};
const SCREEN_CONSTRAINTS = { frameRate: { ideal: 15, max: 30 } };
// A host's token, per call: sent with every join so that a host who reloads is host again.
const HOST_TOKEN_PREFIX = 'parta.hostToken.';
// The invite link's token a participant came in with, per call: a reload or an automatic
// rejoin still has it after the address bar was cleaned.
const LINK_PREFIX = 'parta.link.';
export const ROLES = ['host', 'cohost', 'participant'];
// Sources a host can turn off (a screen share is stopped, not muted).
const HOST_SOURCES = ['microphone', 'camera'];

class StaleError extends Error {}

// The call's WebSocket: on this server, or on the cluster node a `redirect` named.
function wsUrl(node, ticket) {
  // the ticket logs us in there: our cookie belongs to this server's host name
  if (node) return `${node.replace(/^http/, 'ws')}/ws${ticket ? `?ticket=${encodeURIComponent(ticket)}` : ''}`;
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/ws`;
}

/** Resolve once ICE gathering is complete (offers and answers carry every candidate). */
function waitForIceGathering(pc) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    };
    const check = () => { if (pc.iceGatheringState === 'complete') done(); };
    // Send what we have rather than hang if some interface never finishes gathering.
    const timer = setTimeout(done, ICE_GATHER_TIMEOUT_MS);
    pc.addEventListener('icegatheringstatechange', check);
  });
}

function deviceErrorText(err, source) {
  const device = t(source === 'microphone' ? 'deviceNameMicrophone' : 'deviceNameCamera');
  if (err?.name === 'NotFoundError' || err?.name === 'OverconstrainedError') {
    return t('deviceMissing', { device });
  }
  if (err?.name === 'NotReadableError') return t('deviceBusy', { device });
  return t('deviceDenied', { device });
}

function normalizePeer(peer) {
  return {
    id: String(peer?.id ?? ''),
    name: String(peer?.name ?? ''),
    role: ROLES.includes(peer?.role) ? peer.role : 'participant',
    locked: Array.isArray(peer?.locked) ? peer.locked.map(String) : [],
    tracks: Array.isArray(peer?.tracks) ? peer.tracks.map((tr) => ({ ...tr })) : [],
  };
}

/** A viewer count from the server: a whole number, 0 when missing. */
function count(value) {
  return Number.isInteger(value) && value > 0 ? value : 0;
}

export function isHostRole(role) {
  return role === 'host' || role === 'cohost';
}

function loadStored(prefix, call) {
  try {
    return localStorage.getItem(prefix + call) || null;
  } catch {
    return null;
  }
}

/** True when stored (or removed); false when the browser blocks storage. */
function saveStored(prefix, call, value) {
  try {
    if (value) localStorage.setItem(prefix + call, value);
    else localStorage.removeItem(prefix + call);
    return true;
  } catch {
    return false; // storage blocked: a reload loses it; the session keeps it in memory
  }
}

export const loadHostToken = (call) => loadStored(HOST_TOKEN_PREFIX, call);
export const saveHostToken = (call, token) => saveStored(HOST_TOKEN_PREFIX, call, token);
export const loadLink = (call) => loadStored(LINK_PREFIX, call);
export const saveLink = (call, token) => saveStored(LINK_PREFIX, call, token);

/** "/join/<token>" -> "<token>" (null for anything else). */
function linkToken(path) {
  const match = typeof path === 'string' ? /^\/join\/([^/?#]+)$/.exec(path) : null;
  return match ? decodeURIComponent(match[1]) : null;
}

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

  // ---- local media ---------------------------------------------------------------

  async acquireInitialMedia() {
    if (!navigator.mediaDevices?.getUserMedia) {
      toasts.show({
        kind: 'warning',
        text: t(window.isSecureContext ? 'noDevicesAtAll' : 'needsHttps'),
        timeout: 12000,
      });
      this.mediaReady = true;
      return;
    }
    const gum = (constraints) => navigator.mediaDevices.getUserMedia(constraints);
    let tracks = [];
    try {
      tracks = (await gum({ audio: true, video: CAMERA_CONSTRAINTS })).getTracks();
    } catch {
      // One missing or refused device must not cost the other: ask for each alone.
      for (const constraints of [{ audio: true }, { video: CAMERA_CONSTRAINTS }]) {
        try {
          tracks.push(...(await gum(constraints)).getTracks());
        } catch {
          // Reported below by what is missing.
        }
      }
    }
    if (this.leaving) {
      for (const track of tracks) track.stop();
      return;
    }
    for (const track of tracks) {
      this.setLocalTrack(track.kind === 'audio' ? 'microphone' : 'camera', track);
    }
    const key = !this.local.microphone && !this.local.camera ? 'noDevicesAtAll'
      : !this.local.microphone ? 'noMicrophone'
        : !this.local.camera ? 'noCamera' : null;
    if (key) toasts.show({ kind: 'warning', text: t(key), timeout: 12000 });
    this.mediaReady = true;
    this.view.render();
  }

  setLocalTrack(source, track) {
    this.local[source] = track;
    if (source !== 'screen') this.localStream.addTrack(track);
    // Fires when the device goes away or the browser's own "Stop sharing" is used.
    track.addEventListener('ended', () => this.onLocalTrackEnded(source, track));
  }

  onLocalTrackEnded(source, track) {
    if (this.local[source] !== track) return;
    if (source === 'screen') {
      this.stopScreenShare();
      return;
    }
    this.local[source] = null;
    this.localStream.removeTrack(track);
    this.view.render();
    this.requestPublish();
  }

  /** Microphone and camera buttons: mute/unmute, or ask for the device if we have none. */
  async toggleSource(source) {
    if (this.locked.has(source)) {
      toasts.show({ id: `locked-${source}`, kind: 'warning', text: t('hostTurnedOff'), timeout: 5000 });
      return;
    }
    const track = this.local[source];
    if (!track) {
      await this.addDevice(source);
      return;
    }
    this.muted[source] = !this.muted[source];
    track.enabled = !this.muted[source];
    this.syncMute(source);
    this.view.render();
  }

  async addDevice(source) {
    if (!navigator.mediaDevices?.getUserMedia) {
      toasts.show({ kind: 'warning', text: t(window.isSecureContext ? 'noDevicesAtAll' : 'needsHttps') });
      return;
    }
    const constraints = source === 'microphone' ? { audio: true } : { video: CAMERA_CONSTRAINTS };
    let track;
    try {
      [track] = (await navigator.mediaDevices.getUserMedia(constraints)).getTracks();
    } catch (err) {
      toasts.show({ kind: 'warning', text: deviceErrorText(err, source), timeout: 10000 });
      return;
    }
    if (this.leaving || this.local[source]) {
      track.stop();
      return;
    }
    this.muted[source] = false;
    this.setLocalTrack(source, track);
    this.view.render();
    this.requestPublish();
  }

  async toggleScreen() {
    if (this.local.screen) {
      this.stopScreenShare();
      return;
    }
    if (!navigator.mediaDevices?.getDisplayMedia) {
      toasts.show({ kind: 'warning', text: t('screenUnsupported') });
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia({ video: SCREEN_CONSTRAINTS, audio: false });
    } catch (err) {
      // NotAllowedError is also what a press on "Cancel" gives: nothing to report then.
      if (err?.name !== 'NotAllowedError') toasts.show({ kind: 'warning', text: t('screenFailed') });
      return;
    }
    const [track] = stream.getVideoTracks();
    if (!track || this.leaving || this.local.screen) {
      for (const tr of stream.getTracks()) tr.stop();
      return;
    }
    // Text and slides: keep the resolution, let the frame rate drop under congestion.
    if ('contentHint' in track) track.contentHint = 'detail';
    this.screenStream = stream;
    this.setLocalTrack('screen', track);
    this.view.onScreenShareStarted?.();
    this.view.render();
    this.requestPublish();
  }

  stopScreenShare() {
    const track = this.local.screen;
    if (!track) return;
    this.local.screen = null;
    this.screenStream = null;
    track.stop();
    this.view.render();
    this.requestPublish();
  }

  hasLocalMedia() {
    return SOURCES.some((source) => this.local[source]);
  }

  // ---- WebSocket -----------------------------------------------------------------

  connect() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.leaving) return;
    this.setStatus(this.everJoined || this.attempt > 0 ? 'reconnecting' : 'connecting');
    let ws;
    try {
      ws = new WebSocket(wsUrl(this.node, this.ticket));
      this.ticket = null; // it works once
    } catch {
      this.onSocketLost();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (ws !== this.ws) return;
      const join = { type: 'join', version: PROTOCOL_VERSION, call: this.call, name: this.name };
      const token = this.hostToken ?? loadHostToken(this.call);
      if (token) join.host_token = token;
      const link = this.link ?? loadLink(this.call);
      if (link) join.link = link;
      this.send(join);
    };
    ws.onmessage = (event) => { if (ws === this.ws) this.onMessage(event.data); };
    ws.onclose = () => { if (ws === this.ws) this.onSocketLost(); };
  }

  /** The "Try again" button after the automatic attempts ran out. */
  retryNow() {
    this.attempt = 0;
    this.redirects = 0;
    toasts.hide('reconnect-failed');
    this.connect();
  }

  send(message) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  closeSocket() {
    const ws = this.ws;
    this.ws = null;
    clearTimeout(this.recordingTimer);
    this.recordingBusy = false; // a request on this socket gets no answer now
    clearTimeout(this.broadcastTimer);
    this.broadcastBusy = null;
    clearInterval(this.pingTimer);
    this.pingTimer = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = null;
      try { ws.close(); } catch { /* already closed */ }
    }
  }

  /** Treat the socket as lost (unanswered ping, failed media) and start reconnecting. */
  dropSocket() {
    this.closeSocket();
    this.onSocketLost();
  }

  onSocketLost() {
    if (this.over) return; // removed, ended or denied: never come back on our own
    // back through this page's own server, which knows where the call lives now (its
    // node may be the one that went away)
    this.node = null;
    this.redirects = 0; // each way back through our own server may be sent on again
    this.closeSocket();
    this.connected = false;
    this.activeSpeaker = null;
    this.failPending(new StaleError('connection lost'));
    this.closePeerConnections();
    if (this.leaving) return;
    this.view.render();
    if (this.attempt >= RETRY_DELAYS_MS.length) {
      toasts.hide('reconnecting');
      this.setStatus('offline');
      toasts.show({
        id: 'reconnect-failed',
        kind: 'error',
        text: t('reconnectFailed'),
        timeout: 0,
        dismissable: false,
        action: { label: t('tryAgain'), testid: 'btn-retry', onClick: () => this.retryNow() },
      });
      return;
    }
    const delay = RETRY_DELAYS_MS[this.attempt] * (0.8 + 0.4 * Math.random());
    this.attempt += 1;
    this.setStatus('reconnecting');
    toasts.show({ id: 'reconnecting', kind: 'busy', text: t('reconnecting'), timeout: 0, dismissable: false });
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  /** The network came back: do not wait out the backoff. */
  onOnline() {
    if (this.retryTimer) this.connect();
  }

  startPing() {
    clearInterval(this.pingTimer);
    this.pongDeadline = null;
    this.pingTimer = setInterval(() => {
      if (this.pongDeadline && Date.now() > this.pongDeadline) {
        this.dropSocket();
        return;
      }
      if (this.send({ type: 'ping' }) && !this.pongDeadline) {
        this.pongDeadline = Date.now() + PONG_TIMEOUT_MS;
      }
    }, PING_INTERVAL_MS);
  }

  onMessage(data) {
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    if (!msg || typeof msg !== 'object') return;
    switch (msg.type) {
      case 'redirect':
        // the call lives on another node of the cluster: join it there
        this.redirects = (this.redirects || 0) + 1;
        if (this.redirects <= 3) {
          this.node = msg.node;
          this.ticket = msg.ticket || null;
          this.ws = null; // its close is expected: no reconnect from here
          this.connect();
        }
        break;
      case 'joined':
        this.redirects = 0;
        this.onJoined(msg);
        break;
      case 'publish_answer': {
        const pending = this.pendingAnswer;
        this.pendingAnswer = null;
        pending?.resolve(msg);
        break;
      }
      case 'subscribe_offer':
        // The server sends one offer at a time; the chain keeps us from overlapping anyway.
        this.subChain = this.subChain
          .then(() => this.onSubscribeOffer(msg))
          .catch((err) => {
            if (!(err instanceof StaleError) && this.connected) {
              toasts.show({ kind: 'error', text: t('subscribeFailed', { message: err.message }) });
            }
          });
        break;
      case 'peer_joined':
        this.upsertPeer(msg.peer, true);
        break;
      case 'peer_updated':
        this.upsertPeer(msg.peer, false);
        break;
      case 'role_changed':
        this.onRoleChanged(msg);
        break;
      case 'link_changed':
        this.onLinkChanged(msg);
        break;
      case 'peer_left':
        this.removePeer(String(msg.peer_id));
        break;
      case 'active_speaker':
        this.activeSpeaker = msg.peer_id ?? null;
        this.view.render();
        break;
      case 'pong':
        this.pongDeadline = null;
        break;
      case 'waiting':
        this.onWaiting(msg);
        break;
      case 'waiting_list':
        this.onWaitingList(msg);
        break;
      case 'recording':
        this.onRecording(msg);
        break;
      case 'broadcast':
        this.onBroadcast(msg);
        break;
      case 'broadcast_link':
        this.onBroadcastLink(msg);
        break;
      case 'broadcast_viewers':
        this.broadcastViewers = { webrtc: count(msg.webrtc), hls: count(msg.hls) };
        this.view.render();
        break;
      case 'muted_by_host':
        this.onMutedByHost(msg);
        break;
      case 'denied':
        this.finish('denied');
        break;
      case 'removed':
        this.finish('removed', msg.by ?? null);
        break;
      case 'call_ended':
        this.finish('ended', msg.by ?? null);
        break;
      case 'error':
        this.onServerError(msg);
        break;
      default:
        break; // unknown types are ignored, as the server ignores unknown fields
    }
  }

  onJoined(msg) {
    this.peerId = String(msg.peer_id);
    // a scheduled lesson's title; for an ad-hoc call the server sends the call id
    if (typeof msg.title === 'string' && msg.title.trim() && msg.title !== this.call) {
      this.title = msg.title.trim();
    }
    this.iceServers = Array.isArray(msg.ice_servers) ? msg.ice_servers : [];
    this.peers = new Map();
    for (const peer of msg.peers ?? []) {
      const p = normalizePeer(peer);
      if (p.id !== this.peerId) this.peers.set(p.id, p);
    }
    this.self = null;
    this.activeSpeaker = msg.active_speaker ?? null;
    const wasWaiting = this.waiting;
    this.waiting = false;
    this.role = ROLES.includes(msg.role) ? msg.role : 'participant';
    this.waitingRoom = !!msg.waiting_room;
    if (!isHostRole(this.role)) this.waitingList = [];
    // A fresh peer on the server: no locks (a lock belongs to the old peer id).
    this.locked = new Set();
    this.pendingUnmute = null;
    this.setHostToken(typeof msg.host_token === 'string' ? msg.host_token : null);
    this.setInviteLink(msg.invite_link);
    const wasRecording = this.recording;
    this.recording = !!msg.recording;
    if (!this.recording) this.recordingBy = null;
    this.setRecordingBusy(false);
    const wasBroadcasting = this.broadcasting;
    this.broadcasting = !!msg.broadcasting;
    this.broadcastPublic = !!msg.broadcast_public;
    if (!this.broadcasting) this.broadcastBy = null;
    if (!wasBroadcasting) this.broadcastViewers = { webrtc: 0, hls: 0 };
    this.watchLink = this.broadcasting && typeof msg.watch_link === 'string' ? msg.watch_link : null;
    this.setBroadcastBusy(null);
    const wasReconnect = this.everJoined;
    this.connected = true;
    this.everJoined = true;
    this.attempt = 0;
    this.toldMuted = {};
    toasts.hide('reconnecting');
    toasts.hide('reconnect-failed');
    if (wasReconnect) toasts.show({ kind: 'success', text: t('reconnected'), timeout: 3000 });
    else if (wasWaiting) toasts.show({ kind: 'success', text: t('admittedToast'), timeout: 4000 });
    if (this.recording && !wasRecording) {
      toasts.show({ id: 'recording', kind: 'warning', icon: 'record', text: t('recordingOnJoin'), timeout: 6000 });
    }
    if (this.broadcasting && !wasBroadcasting) {
      toasts.show({ id: 'broadcast', kind: 'warning', icon: 'eye', text: t('broadcastOnJoin'), timeout: 6000 });
    }
    this.setStatus('connected');
    this.startPing();
    this.ensureSubPc();
    this.view.render();
    if (this.hasLocalMedia()) this.requestPublish();
  }

  /** The waiting room is on: wait (socket open, no media) until `joined` or `denied`. */
  onWaiting(msg) {
    this.peerId = msg.peer_id != null ? String(msg.peer_id) : null;
    this.title = typeof msg.title === 'string' && msg.title.trim() ? msg.title.trim() : null;
    this.waiting = true;
    this.connected = false;
    this.recording = false; // told again with `joined`
    this.broadcasting = false;
    this.watchLink = null;
    this.peers = new Map();
    this.attempt = 0;
    toasts.hide('reconnecting');
    toasts.hide('reconnect-failed');
    this.setStatus('waiting');
    this.startPing();
    this.view.render();
  }

  /** Hosts: who waits at the door, and whether the door is on. */
  onWaitingList(msg) {
    const before = new Set(this.waitingList.map((p) => p.id));
    this.waitingRoom = !!msg.enabled;
    this.waitingList = (Array.isArray(msg.waiting) ? msg.waiting : [])
      .map((p) => ({ id: String(p?.peer_id ?? ''), name: String(p?.name ?? '') }))
      .filter((p) => p.id);
    const arrivals = this.waitingList.filter((p) => !before.has(p.id));
    for (const p of arrivals) announce(t('isWaiting', { name: p.name }));
    this.view.onWaitingListChanged?.(arrivals);
    this.view.render();
  }

  /** A host turned one of our sources off (perhaps for good): follow in the UI. */
  onMutedByHost(msg) {
    const source = msg.source;
    if (!HOST_SOURCES.includes(source)) return;
    this.muted[source] = true;
    const track = this.local[source];
    if (track) track.enabled = false;
    // The server already has it muted: no need to tell it, and an unmute must be sent.
    this.toldMuted[source] = true;
    if (this.pendingUnmute === source) this.pendingUnmute = null;
    if (msg.locked) this.locked.add(source);
    const key = source === 'microphone'
      ? (msg.locked ? 'hostLockedMic' : 'hostMutedMic')
      : (msg.locked ? 'hostLockedCamera' : 'hostMutedCamera');
    toasts.show({ id: `host-muted-${source}`, kind: 'info', text: t(key), timeout: 8000 });
    this.view.render();
  }

  /** A host made us co-host (with a token of our own) or participant again. */
  onRoleChanged(msg) {
    this.setHostToken(msg.host_token ?? null);
    this.setInviteLink(msg.invite_link);
    this.onSelfUpdated({ ...(this.self ?? {}), role: msg.role, locked: [...this.locked] });
  }

  /** `peer_updated` about ourselves (a host changed our role or lifted a lock). */
  onSelfUpdated(peer) {
    this.self = peer;
    const role = peer.role;
    if (role !== this.role) {
      const wasHost = isHostRole(this.role);
      this.role = role;
      if (isHostRole(role) && !wasHost) {
        toasts.show({ kind: 'success', text: t('youAreCohost'), timeout: 6000 });
      } else if (!isHostRole(role) && wasHost) {
        this.waitingList = [];
        this.setHostToken(null);
        this.inviteLink = null;
        this.view.onWaitingListChanged?.([]);
        toasts.show({ kind: 'info', text: t('youAreParticipant'), timeout: 6000 });
      }
    }
    const locked = new Set(peer.locked.filter((source) => HOST_SOURCES.includes(source)));
    for (const source of this.locked) {
      if (locked.has(source)) continue;
      toasts.hide(`host-muted-${source}`);
      toasts.show({
        kind: 'info',
        text: t(source === 'microphone' ? 'hostUnlockedMic' : 'hostUnlockedCamera'),
        timeout: 6000,
      });
    }
    this.locked = locked;
    this.view.render();
  }

  setHostToken(token) {
    this.hostToken = token || null;
    saveHostToken(this.call, this.hostToken);
  }

  /**
   * Hosts are told the call's invite link (a path; null when turned off). A host keeps
   * its token as their own link too: were they made a participant, a reload still works.
   */
  setInviteLink(path) {
    this.inviteLink = typeof path === 'string' && path ? path : null;
    const token = linkToken(this.inviteLink);
    if (token) {
      this.link = token;
      saveLink(this.call, token);
    }
  }

  /** The invite link as a full URL, for hosts; null otherwise or when turned off. */
  inviteUrl() {
    return this.inviteLink && isHostRole(this.role) ? `${location.origin}${this.inviteLink}` : null;
  }

  /** A host made a new invite link or turned it off (perhaps another host). */
  onLinkChanged(msg) {
    this.setInviteLink(msg.invite_link ?? null);
    toasts.show({
      id: 'link-changed',
      kind: this.inviteLink ? 'success' : 'info',
      text: t(this.inviteLink ? 'linkRenewed' : 'linkTurnedOffToast'),
      timeout: 6000,
    });
    this.view.render();
  }

  // ---- host controls (the server checks every one of them) -------------------------

  newLink() {
    return this.send({ type: 'new_link' });
  }

  revokeLink() {
    return this.send({ type: 'revoke_link' });
  }

  isHost() {
    return isHostRole(this.role) && this.connected;
  }

  muteParticipant(peerId, source, lock = false) {
    return this.send({ type: 'mute_participant', peer_id: peerId, source, lock });
  }

  unlockParticipant(peerId, source) {
    return this.send({ type: 'unlock_participant', peer_id: peerId, source });
  }

  setRole(peerId, role) {
    return this.send({ type: 'set_role', peer_id: peerId, role });
  }

  removeParticipant(peerId) {
    return this.send({ type: 'remove_participant', peer_id: peerId });
  }

  endCall() {
    return this.send({ type: 'end_call' });
  }

  setWaitingRoom(enabled) {
    return this.send({ type: 'set_waiting_room', enabled: !!enabled });
  }

  admit(peerId) {
    return this.send({ type: 'admit', peer_id: peerId });
  }

  deny(peerId) {
    return this.send({ type: 'deny', peer_id: peerId });
  }

  admitAll() {
    return this.send({ type: 'admit_all' });
  }

  /** Hosts: start or stop recording. One request at a time; `recording` answers it. */
  startRecording() {
    return this.sendRecordingRequest('start_recording');
  }

  stopRecording() {
    return this.sendRecordingRequest('stop_recording');
  }

  sendRecordingRequest(type) {
    if (this.recordingBusy || !this.isHost()) return false;
    if (!this.send({ type })) return false;
    this.setRecordingBusy(true);
    return true;
  }

  setRecordingBusy(busy) {
    clearTimeout(this.recordingTimer);
    this.recordingTimer = null;
    this.recordingBusy = busy;
    if (busy) {
      // no answer at all (a lost socket reconnects with `joined`): let the host try again
      this.recordingTimer = setTimeout(() => {
        if (!this.recordingBusy) return;
        this.recordingBusy = false;
        toasts.show({ id: 'recording', kind: 'warning', text: t('recordNoAnswer'), timeout: 6000 });
        this.view.render();
      }, 20000);
    }
    this.view.render();
  }

  /** Recording started or stopped (by a host, by HTTP, or with the call's end). */
  onRecording(msg) {
    const on = !!msg.on;
    const by = msg.by != null ? String(msg.by) : null;
    const changed = on !== this.recording;
    this.recording = on;
    this.recordingBy = on ? by : null;
    this.setRecordingBusy(false);
    if (!changed) return;
    let text;
    if (by && by === this.peerId) text = t(on ? 'recordingStartedYou' : 'recordingStoppedYou');
    else if (by && this.peers.has(by)) {
      text = t(on ? 'recordingStartedBy' : 'recordingStoppedBy', { name: this.peers.get(by).name });
    } else text = t(on ? 'recordingStarted' : 'recordingStopped');
    toasts.show({
      id: 'recording', kind: on ? 'warning' : 'info', icon: on ? 'record' : 'recordStop', text, timeout: 5000,
    });
  }

  /** Hosts: broadcast the call live — `isPublic` (anyone with the link) or for the
   * members of a school (`orgId`; null lets the server pick the host's only school).
   * One request at a time; `broadcast` (or an error) answers it. */
  startBroadcast(isPublic, orgId = null) {
    const message = { type: 'start_broadcast', public: !!isPublic };
    if (!isPublic && orgId) message.org_id = orgId;
    return this.sendBroadcastRequest(message);
  }

  stopBroadcast() {
    return this.sendBroadcastRequest({ type: 'stop_broadcast' });
  }

  /** Hosts: a new watch link; the old one lets nobody new in. `broadcast_link` answers. */
  newWatchLink() {
    return this.sendBroadcastRequest({ type: 'new_watch_link' });
  }

  sendBroadcastRequest(message) {
    if (this.broadcastBusy || !this.isHost()) return false;
    if (!this.send(message)) return false;
    this.setBroadcastBusy(message.type);
    return true;
  }

  setBroadcastBusy(busy) {
    clearTimeout(this.broadcastTimer);
    this.broadcastTimer = null;
    this.broadcastBusy = busy;
    if (busy) {
      // starting spawns the encoder, which may take a while; no answer at all: try again
      this.broadcastTimer = setTimeout(() => {
        if (!this.broadcastBusy) return;
        this.broadcastBusy = null;
        toasts.show({ id: 'broadcast', kind: 'warning', text: t('recordNoAnswer'), timeout: 6000 });
        this.view.render();
      }, 30000);
    }
    this.view.render();
  }

  /** The watch link (full URL) for hosts while live; null otherwise. */
  watchUrl() {
    return this.broadcasting && this.watchLink ? `${location.origin}${this.watchLink}` : null;
  }

  /** The broadcast started or stopped (by a host, by HTTP, or with the call's end). */
  onBroadcast(msg) {
    const on = !!msg.on;
    const by = msg.by != null ? String(msg.by) : null;
    const changed = on !== this.broadcasting;
    this.broadcasting = on;
    this.broadcastPublic = !!msg.public;
    this.broadcastBy = on ? by : null;
    if (!on) this.watchLink = null;
    if (changed) this.broadcastViewers = { webrtc: 0, hls: 0 };
    if (this.broadcastBusy === 'start_broadcast' || this.broadcastBusy === 'stop_broadcast') {
      this.setBroadcastBusy(null);
    }
    this.view.onBroadcastChanged?.(on, changed);
    this.view.render();
    if (!changed) return;
    let text;
    if (by && by === this.peerId) text = t(on ? 'broadcastStartedYou' : 'broadcastStoppedYou');
    else if (by && this.peers.has(by)) {
      text = t(on ? 'broadcastStartedBy' : 'broadcastStoppedBy', { name: this.peers.get(by).name });
    } else text = t(on ? 'broadcastStarted' : 'broadcastStopped');
    toasts.show({
      id: 'broadcast', kind: on ? 'warning' : 'info', icon: 'eye', text, timeout: 6000,
    });
  }

  /** Hosts: the watch link, new (start, "New link") or gone (stopped). */
  onBroadcastLink(msg) {
    const link = typeof msg.watch_link === 'string' ? msg.watch_link : null;
    const renewed = this.broadcastBusy === 'new_watch_link' && link && link !== this.watchLink;
    this.watchLink = link;
    if (link) this.broadcastPublic = !!msg.public;
    if (this.broadcastBusy === 'new_watch_link') this.setBroadcastBusy(null);
    if (renewed) toasts.show({ id: 'broadcast', kind: 'success', text: t('broadcastNewLinkDone'), timeout: 5000 });
    this.view.render();
  }

  onServerError(msg) {
    if (msg.code === 'call_ended') {
      this.finish('ended');
      return;
    }
    if (msg.code === 'bad_link' && msg.in_reply_to === 'join') {
      // The link was replaced or turned off (or there was none): only a new one from a
      // host helps, so no retry. The stale token is forgotten.
      this.hadLink = !!(this.link ?? loadLink(this.call));
      this.link = null;
      saveLink(this.call, null);
      this.finish('bad-link');
      return;
    }
    if (msg.code === 'locked') {
      // Our unmute came too late: a host keeps that source off.
      const source = this.pendingUnmute;
      this.pendingUnmute = null;
      if (source) {
        this.muted[source] = true;
        if (this.local[source]) this.local[source].enabled = false;
        this.toldMuted[source] = true;
        this.locked.add(source);
        this.view.render();
      }
      toasts.show({ id: 'locked', kind: 'warning', text: t('errorLocked'), timeout: 6000 });
      return;
    }
    if (msg.in_reply_to === 'start_recording' || msg.in_reply_to === 'stop_recording') {
      this.setRecordingBusy(false);
      if (msg.code === 'out_of_order') {
        // another host was quicker: follow the server
        const on = msg.in_reply_to === 'start_recording';
        this.recording = on;
        toasts.show({ id: 'recording', kind: 'info', text: t(on ? 'recordAlreadyOn' : 'recordAlreadyOff'), timeout: 5000 });
        this.view.render();
        return;
      }
    }
    if (['start_broadcast', 'stop_broadcast', 'new_watch_link'].includes(msg.in_reply_to)) {
      this.setBroadcastBusy(null);
      if (msg.code === 'out_of_order') {
        // another host was quicker: follow the server
        const on = msg.in_reply_to === 'start_broadcast';
        if (!on) this.broadcasting = false;
        toasts.show({ id: 'broadcast', kind: 'info', text: t(on ? 'broadcastAlreadyOn' : 'broadcastAlreadyOff'), timeout: 5000 });
        this.view.render();
        return;
      }
      const message = String(msg.message || msg.code || 'error');
      const key = msg.in_reply_to === 'start_broadcast' ? 'broadcastFailed' : 'broadcastActionFailed';
      toasts.show({ id: 'broadcast', kind: 'error', text: t(key, { message }), timeout: 12000 });
      this.view.onBroadcastFailed?.(msg.in_reply_to);
      return;
    }
    const friendly = { forbidden: 'errorForbidden', not_found: 'errorNotFound' }[msg.code];
    if (friendly) {
      toasts.show({ kind: 'warning', text: t(friendly), timeout: 6000 });
      return;
    }
    const message = String(msg.message || msg.code || 'error');
    if (msg.in_reply_to === 'publish' && this.pendingAnswer) {
      const pending = this.pendingAnswer;
      this.pendingAnswer = null;
      pending.reject(new Error(message)); // the publish loop shows it
      return;
    }
    toasts.show({ kind: 'error', text: t('serverError', { message }), timeout: 12000 });
    if (msg.in_reply_to === 'join' && !this.connected) this.setStatus('offline');
  }

  upsertPeer(raw, isNew) {
    const peer = normalizePeer(raw);
    if (!peer.id) return;
    if (peer.id === this.peerId) {
      this.onSelfUpdated(peer);
      return;
    }
    const known = this.peers.has(peer.id);
    this.peers.set(peer.id, peer);
    if (isNew && !known) announce(t('peerJoined', { name: peer.name }));
    this.view.render();
  }

  removePeer(peerId) {
    const peer = this.peers.get(peerId);
    if (!peer) return;
    this.peers.delete(peerId);
    this.remote.delete(peerId);
    if (this.activeSpeaker === peerId) this.activeSpeaker = null;
    announce(t('peerLeft', { name: peer.name }));
    this.view.render();
  }

  failPending(err) {
    const pending = this.pendingAnswer;
    this.pendingAnswer = null;
    pending?.reject(err);
  }

  // ---- peer connections -------------------------------------------------------

  rtcConfig() {
    // ICE servers only from the server's configuration: none by default, never a public one.
    return { iceServers: this.iceServers, bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' };
  }

  ensurePubPc() {
    if (!this.pubPc) {
      const pc = new RTCPeerConnection(this.rtcConfig());
      pc.addEventListener('connectionstatechange', () => this.onPcState(pc));
      this.pubPc = pc;
    }
    return this.pubPc;
  }

  ensureSubPc() {
    if (!this.subPc) {
      const pc = new RTCPeerConnection(this.rtcConfig());
      pc.addEventListener('connectionstatechange', () => this.onPcState(pc));
      pc.addEventListener('track', (event) => {
        if (pc !== this.subPc) return;
        const mid = event.transceiver?.mid;
        if (mid != null && event.streams[0]) this.msidOfMid.set(mid, event.streams[0].id);
        this.mapRemoteTracks();
      });
      this.subPc = pc;
    }
    return this.subPc;
  }

  closePeerConnections() {
    for (const pc of [this.pubPc, this.subPc]) pc?.close();
    this.pubPc = null;
    this.subPc = null;
    this.pubTx = {};
    this.published = [];
    this.toldMuted = {};
    this.subTracks = new Map();
    this.msidOfMid = new Map();
    this.remote = new Map();
    this.subChain = Promise.resolve();
  }

  onPcState(pc) {
    if (pc !== this.pubPc && pc !== this.subPc) return;
    if (pc.connectionState === 'connected') this.mediaFailures = 0;
    if (pc.connectionState !== 'failed' || !this.connected) return;
    // Rejoining builds both connections afresh; give up after a few in a row so a network
    // that never lets media through does not loop for ever.
    this.mediaFailures += 1;
    if (this.mediaFailures > MAX_MEDIA_FAILURES) return;
    toasts.show({ kind: 'warning', text: t('mediaFailed') });
    this.dropSocket();
  }

  /** Renegotiate the publish connection; calls made meanwhile fold into one more round. */
  async requestPublish() {
    this.publishAgain = true;
    if (this.publishBusy) return;
    this.publishBusy = true;
    try {
      while (this.publishAgain && this.connected) {
        this.publishAgain = false;
        try {
          await this.publishOnce();
        } catch (err) {
          if (!(err instanceof StaleError) && this.connected) {
            toasts.show({ kind: 'error', text: t('publishFailed', { message: err.message }), timeout: 12000 });
          }
        }
      }
    } finally {
      this.publishBusy = false;
    }
  }

  async publishOnce() {
    const pc = this.ensurePubPc();
    const live = () => { if (pc !== this.pubPc || !this.connected) throw new StaleError('stale'); };
    let sending = false;
    for (const source of SOURCES) {
      const track = this.local[source];
      let tx = this.pubTx[source];
      if (track) {
        sending = true;
        const stream = source === 'screen' ? this.screenStream : this.localStream;
        if (!tx) {
          tx = pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
          this.pubTx[source] = tx;
        } else {
          // The same m-line is reused when a source comes back (a new screen share).
          if (tx.sender.track !== track) await tx.sender.replaceTrack(track);
          tx.sender.setStreams?.(stream);
          if (tx.direction !== 'sendonly') tx.direction = 'sendonly';
        }
      } else if (tx && tx.direction !== 'inactive') {
        await tx.sender.replaceTrack(null);
        tx.direction = 'inactive';
      }
      live();
    }
    if (!sending && this.published.length === 0) return; // nothing to send or take back

    await pc.setLocalDescription(await pc.createOffer());
    live();
    await waitForIceGathering(pc);
    live();
    const tracks = SOURCES
      .filter((source) => this.local[source] && this.pubTx[source]?.mid != null)
      .map((source) => ({ mid: this.pubTx[source].mid, source }));
    const answered = new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.pendingAnswer?.resolve === resolveOnce) this.pendingAnswer = null;
        reject(new Error(t('timeout')));
      }, ANSWER_TIMEOUT_MS);
      const resolveOnce = (m) => { clearTimeout(timer); resolve(m); };
      this.pendingAnswer = { resolve: resolveOnce, reject: (e) => { clearTimeout(timer); reject(e); } };
    });
    if (!this.send({ type: 'publish', sdp: pc.localDescription.sdp, tracks })) {
      this.failPending(new StaleError('not connected'));
    }
    let answer;
    try {
      answer = await answered;
    } catch (err) {
      // Back to stable so that the next attempt can make a fresh offer.
      if (pc === this.pubPc && pc.signalingState === 'have-local-offer') {
        await pc.setLocalDescription({ type: 'rollback' }).catch(() => {});
      }
      throw err;
    }
    live();
    await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
    live();
    this.published = tracks;
    // toldMuted is kept for unpublished sources: the server keeps a mute across republishes.
    for (const { source } of tracks) this.syncMute(source);
    this.view.render();
  }

  /** Tell the server a source's mute state, once it is published and only on change. */
  syncMute(source) {
    if (!this.connected || !(source in this.muted)) return;
    if (!this.published.some((tr) => tr.source === source)) return;
    const muted = this.muted[source];
    if ((this.toldMuted[source] ?? false) === muted) return;
    if (this.send({ type: 'mute', source, muted })) {
      this.toldMuted[source] = muted;
      this.pendingUnmute = muted ? null : source;
    }
  }

  async onSubscribeOffer(msg) {
    const pc = this.subPc;
    if (!pc || !this.connected) return;
    const live = () => { if (pc !== this.subPc) throw new StaleError('stale'); };
    const previous = this.subTracks;
    // Set before setRemoteDescription: its track events look mids up in this map.
    this.subTracks = new Map((msg.tracks ?? []).map((tr) => [String(tr.mid), tr]));
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp: msg.sdp });
    } catch (err) {
      this.subTracks = previous;
      throw err;
    }
    live();
    await pc.setLocalDescription(await pc.createAnswer());
    live();
    await waitForIceGathering(pc);
    live();
    this.send({ type: 'subscribe_answer', sdp: pc.localDescription.sdp });
    this.mapRemoteTracks();
  }

  /**
   * Which received track belongs to whom: the offer's `tracks` list maps each m-line (mid)
   * to a peer and source. A receiver keeps one track object for its whole life, so an
   * m-line the server reuses for someone else simply maps anew here.
   */
  mapRemoteTracks() {
    const pc = this.subPc;
    const remote = new Map();
    if (pc) {
      for (const tx of pc.getTransceivers()) {
        if (tx.mid == null || tx.stopped) continue;
        let info = this.subTracks.get(tx.mid);
        if (!info && this.msidOfMid.has(tx.mid) && tx.currentDirection !== 'inactive') {
          // Not in the list (should not happen): fall back on msid "<peer_id> <track_id>".
          const kind = tx.receiver.track.kind;
          info = {
            peer_id: this.msidOfMid.get(tx.mid),
            kind,
            source: kind === 'audio' ? 'microphone' : 'camera',
            track_id: tx.receiver.track.id,
          };
        }
        if (!info) continue;
        const peerId = String(info.peer_id);
        const media = remote.get(peerId) ?? {};
        if (media[info.source]) continue;
        media[info.source] = {
          track: tx.receiver.track,
          mid: tx.mid,
          trackId: info.track_id,
          kind: info.kind,
        };
        remote.set(peerId, media);
        this.watchTrack(tx.receiver.track);
      }
    }
    this.remote = remote;
    this.view.render();
  }

  /** Remote tracks are muted until their first packets: show the video when they come. */
  watchTrack(track) {
    if (this.watchedTracks.has(track)) return;
    this.watchedTracks.add(track);
    for (const type of ['mute', 'unmute', 'ended']) track.addEventListener(type, () => this.view.render());
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
