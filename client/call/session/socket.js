// A call session's WebSocket: connecting (here, or on the cluster node a `redirect`
// named), the join message, keep-alive pings, and reconnecting with backoff.

import { t } from '../../shared/strings.js';
import { toasts } from '../../shared/ui.js';
import { StaleError } from './common.js';
import { loadHostToken, loadLink } from './stored.js';

const PROTOCOL_VERSION = 1;

// Waits before each reconnection attempt; jittered so a restarted server is not hit by
// every client in the same millisecond.
const RETRY_DELAYS_MS = [1000, 2000, 4000, 8000, 16000];

const PING_INTERVAL_MS = 20000;
const PONG_TIMEOUT_MS = 15000;

// The call's WebSocket: on this server, or on the cluster node a `redirect` named.
function wsUrl(node, ticket) {
  // the ticket logs us in there: our cookie belongs to this server's host name
  if (node) return `${node.replace(/^http/, 'ws')}/ws${ticket ? `?ticket=${encodeURIComponent(ticket)}` : ''}`;
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/ws`;
}

export const socketMethods = {
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
  },

  /** The "Try again" button after the automatic attempts ran out. */
  retryNow() {
    this.attempt = 0;
    this.redirects = 0;
    toasts.hide('reconnect-failed');
    this.connect();
  },

  send(message) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  },

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
  },

  /** Treat the socket as lost (unanswered ping, failed media) and start reconnecting. */
  dropSocket() {
    this.closeSocket();
    this.onSocketLost();
  },

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
  },

  /** The network came back: do not wait out the backoff. */
  onOnline() {
    if (this.retryTimer) this.connect();
  },

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
  },
};
