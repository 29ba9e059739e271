// Broadcasting live: hosts start and stop it and renew the watch link (one request at a
// time), everyone is told; hosts also get the watch link and the viewer counts.

import { t } from '../../shared/strings.js';
import { toasts } from '../../shared/ui.js';

export const broadcastMethods = {
  /** Hosts: broadcast the call live — `isPublic` (anyone with the link) or for the
   * members of a school (`orgId`; null lets the server pick the host's only school).
   * One request at a time; `broadcast` (or an error) answers it. */
  startBroadcast(isPublic, orgId = null) {
    const message = { type: 'start_broadcast', public: !!isPublic };
    if (!isPublic && orgId) message.org_id = orgId;
    return this.sendBroadcastRequest(message);
  },

  stopBroadcast() {
    return this.sendBroadcastRequest({ type: 'stop_broadcast' });
  },

  /** Hosts: a new watch link; the old one lets nobody new in. `broadcast_link` answers. */
  newWatchLink() {
    return this.sendBroadcastRequest({ type: 'new_watch_link' });
  },

  sendBroadcastRequest(message) {
    if (this.broadcastBusy || !this.isHost()) return false;
    if (!this.send(message)) return false;
    this.setBroadcastBusy(message.type);
    return true;
  },

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
  },

  /** The watch link (full URL) for hosts while live; null otherwise. */
  watchUrl() {
    return this.broadcasting && this.watchLink ? `${location.origin}${this.watchLink}` : null;
  },

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
  },

  /** Hosts: the watch link, new (start, "New link") or gone (stopped). */
  onBroadcastLink(msg) {
    const link = typeof msg.watch_link === 'string' ? msg.watch_link : null;
    const renewed = this.broadcastBusy === 'new_watch_link' && link && link !== this.watchLink;
    this.watchLink = link;
    if (link) this.broadcastPublic = !!msg.public;
    if (this.broadcastBusy === 'new_watch_link') this.setBroadcastBusy(null);
    if (renewed) toasts.show({ id: 'broadcast', kind: 'success', text: t('broadcastNewLinkDone'), timeout: 5000 });
    this.view.render();
  },
};
