// The chats client's shared parts: JSON requests, the live events socket, the state the
// modules share, and small formatting helpers.

import { t } from '../shared/strings.js';

/** What the modules share. `hooks` lets them call each other without import cycles. */
export const state = {
  me: null, // GET /api/me
  folders: [], // [{id, name, position}]
  filter: { kind: 'all', id: null }, // all | archived | folder
  chats: [], // the listed chats
  openId: null, // the chat on screen
  live: null, // LiveEvents
};
export const hooks = {};

export class ApiError extends Error {
  constructor(status, message, code = null) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** A JSON request; throws ApiError with the server's own message. */
export async function api(method, path, body = undefined) {
  let response;
  try {
    response = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body !== undefined
        ? { 'Content-Type': 'application/json', Accept: 'application/json' }
        : { Accept: 'application/json' },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
  } catch {
    throw new ApiError(0, t('networkError'));
  }
  if (response.status === 401) {
    const here = `${location.pathname}${location.search}`;
    location.assign(`/login?next=${encodeURIComponent(here)}&expired=1`);
    throw new ApiError(401, t('sessionExpired'));
  }
  if (response.status === 204) return {};
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new ApiError(response.status, data.message || t('requestFailed', { status: response.status }), data.error ?? data.code);
  }
  return data;
}

/**
 * GET /api/events: live chat events. Reconnects with backoff (1 s doubling to 30 s),
 * pings every 25 s, and tells the server again which chat is on screen after a reconnect.
 */
export class LiveEvents {
  constructor({ onEvent, onStatus }) {
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.focusId = null;
    this.delay = 1000;
    this.ws = null;
    this.ping = null;
    this.everOpen = false;
    this.connect();
    document.addEventListener('visibilitychange', () => this.sendFocus());
    window.addEventListener('online', () => {
      if (!this.ws || this.ws.readyState > 1) this.connect();
    });
  }

  connect() {
    clearTimeout(this.retry);
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${scheme}://${location.host}/api/events`);
    this.ws = ws;
    ws.onopen = () => {
      const again = this.everOpen;
      this.everOpen = true;
      this.delay = 1000;
      this.onStatus('online', again);
      this.sendFocus();
      clearInterval(this.ping);
      this.ping = setInterval(() => this.send({ type: 'ping' }), 25000);
    };
    ws.onmessage = (event) => {
      let data;
      try {
        data = JSON.parse(event.data);
      } catch {
        return;
      }
      this.onEvent(data);
    };
    ws.onclose = () => {
      clearInterval(this.ping);
      if (this.ws !== ws) return;
      this.onStatus('offline');
      this.retry = setTimeout(() => this.connect(), this.delay);
      this.delay = Math.min(this.delay * 2, 30000);
    };
  }

  get open() {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  send(data) {
    if (this.open) this.ws.send(JSON.stringify(data));
  }

  /** The chat on screen: the server sends no notifications for it. */
  focus(chatId) {
    this.focusId = chatId;
    this.sendFocus();
  }

  sendFocus() {
    // a hidden tab looks at nothing: its chats notify
    this.send({ type: 'focus', chat_id: document.hidden ? null : this.focusId });
  }
}

// ---- formatting ---------------------------------------------------------------------------

export function bytes(n) {
  if (n < 1024) return t('bytesB', { n });
  if (n < 1024 ** 2) return t('bytesKB', { n: Math.round(n / 1024) });
  if (n < 1024 ** 3) return t('bytesMB', { n: (n / 1024 ** 2).toFixed(1) });
  return t('bytesGB', { n: (n / 1024 ** 3).toFixed(2) });
}

/** A length of time: "12:34", or "1:02:03" from an hour up. */
export function duration(seconds) {
  const total = Math.max(0, Math.round(Number(seconds) || 0));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

const sameDay = (a, b) => a.toDateString() === b.toDateString();

export function clockTime(iso) {
  return new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/** In the list: the time today, "Yesterday", else a short date. */
export function shortWhen(iso) {
  const when = new Date(iso);
  const now = new Date();
  if (sameDay(when, now)) return clockTime(iso);
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (sameDay(when, yesterday)) return t('yesterday');
  return when.toLocaleDateString([], { day: 'numeric', month: 'short' });
}

/** A day separator in a chat: "Today", "Yesterday", "Monday, 3 March". */
export function dayLabel(iso) {
  const when = new Date(iso);
  const now = new Date();
  if (sameDay(when, now)) return t('today');
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (sameDay(when, yesterday)) return t('yesterday');
  return when.toLocaleDateString([], {
    weekday: 'long', day: 'numeric', month: 'long',
    year: when.getFullYear() === now.getFullYear() ? undefined : 'numeric',
  });
}

export function longWhen(iso) {
  return new Date(iso).toLocaleString([], {
    weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit',
  });
}

export function roleName(role) {
  return t({ teacher: 'roleTeacher', student: 'roleStudent', parent: 'roleParent', owner: 'roleOwner', admin: 'roleAdmin' }[role] ?? role);
}

/** One line about a message, for the list and for notifications. */
export function preview(message) {
  if (!message) return '';
  if (message.deleted) return t('messageDeleted');
  if (message.kind === 'system') return systemText(message).text;
  if (message.kind === 'voice') {
    // once transcribed, the list shows what was said
    const said = message.transcript_status === 'done' ? (message.transcript ?? '').trim() : '';
    return said ? `${t('voiceShort')}: ${said}` : t('voiceShort');
  }
  if (message.kind === 'recording') return t('recordingShort', { duration: duration(message.meta?.duration) });
  if (message.kind === 'file') return message.text || t('fileMessage', { name: message.meta?.file?.filename ?? '' });
  return message.text;
}

/** A system notice in words, with an optional link: {text, link}. */
export function systemText(message) {
  const meta = message.meta ?? {};
  const name = meta.full_name || t('sysSomeone');
  switch (meta.event) {
    case 'created':
      return { text: t('sysCreated', { name, title: meta.title ?? '' }) };
    case 'joined':
      return { text: t('sysJoined', { name }) };
    case 'left':
      return { text: t('sysLeft', { name }) };
    case 'call_scheduled':
      return {
        text: t('sysScheduled', { title: meta.title ?? '', when: meta.start ? longWhen(meta.start) : '' }),
        link: meta.link,
      };
    case 'call_changed':
      return {
        text: t('sysChanged', { title: meta.title ?? '', when: meta.start ? longWhen(meta.start) : '' }),
        link: meta.link,
      };
    case 'call_cancelled':
      return { text: t('sysCancelled', { title: meta.title ?? '' }) };
    case 'call_reminder':
      return {
        text: meta.minutes_before
          ? t('sysReminder', { title: meta.title ?? '', minutes: meta.minutes_before })
          : t('sysReminderNow', { title: meta.title ?? '' }),
        link: meta.link,
      };
    default:
      return { text: message.text || meta.event || '' };
  }
}
