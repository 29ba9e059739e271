// Host controls and the waiting room: our role, a host muting or locking our sources, the
// invite link, the waiting list, and the requests a host sends (the server checks each).

import { t } from '../../shared/strings.js';
import { announce, toasts } from '../../shared/ui.js';
import { isHostRole } from './common.js';
import { linkToken, saveHostToken, saveLink } from './stored.js';

// Sources a host can turn off (a screen share is stopped, not muted).
const HOST_SOURCES = ['microphone', 'camera'];

export const hostMethods = {
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
  },

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
  },

  /** A host made us co-host (with a token of our own) or participant again. */
  onRoleChanged(msg) {
    this.setHostToken(msg.host_token ?? null);
    this.setInviteLink(msg.invite_link);
    this.onSelfUpdated({ ...(this.self ?? {}), role: msg.role, locked: [...this.locked] });
  },

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
  },

  setHostToken(token) {
    this.hostToken = token || null;
    saveHostToken(this.call, this.hostToken);
  },

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
  },

  /** The invite link as a full URL, for hosts; null otherwise or when turned off. */
  inviteUrl() {
    return this.inviteLink && isHostRole(this.role) ? `${location.origin}${this.inviteLink}` : null;
  },

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
  },

  // ---- host controls (the server checks every one of them) -------------------------

  newLink() {
    return this.send({ type: 'new_link' });
  },

  revokeLink() {
    return this.send({ type: 'revoke_link' });
  },

  isHost() {
    return isHostRole(this.role) && this.connected;
  },

  muteParticipant(peerId, source, lock = false) {
    return this.send({ type: 'mute_participant', peer_id: peerId, source, lock });
  },

  unlockParticipant(peerId, source) {
    return this.send({ type: 'unlock_participant', peer_id: peerId, source });
  },

  setRole(peerId, role) {
    return this.send({ type: 'set_role', peer_id: peerId, role });
  },

  removeParticipant(peerId) {
    return this.send({ type: 'remove_participant', peer_id: peerId });
  },

  endCall() {
    return this.send({ type: 'end_call' });
  },

  setWaitingRoom(enabled) {
    return this.send({ type: 'set_waiting_room', enabled: !!enabled });
  },

  admit(peerId) {
    return this.send({ type: 'admit', peer_id: peerId });
  },

  deny(peerId) {
    return this.send({ type: 'deny', peer_id: peerId });
  },

  admitAll() {
    return this.send({ type: 'admit_all' });
  },
};
