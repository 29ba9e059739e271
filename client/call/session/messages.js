// What the server tells a call session (calls/PROTOCOL.md): the messages by type,
// `joined` and `waiting`, errors, and the others joining, changing and leaving.

import { t } from '../../shared/strings.js';
import { announce, toasts } from '../../shared/ui.js';
import { ROLES, StaleError, isHostRole } from './common.js';
import { loadLink, saveLink } from './stored.js';

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

export const messageMethods = {
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
  },

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
  },

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
  },

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
  },

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
  },

  removePeer(peerId) {
    const peer = this.peers.get(peerId);
    if (!peer) return;
    this.peers.delete(peerId);
    this.remote.delete(peerId);
    if (this.activeSpeaker === peerId) this.activeSpeaker = null;
    announce(t('peerLeft', { name: peer.name }));
    this.view.render();
  },
};
