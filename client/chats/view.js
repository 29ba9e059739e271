// One open chat: its history (older pages on scrolling up), live messages, the composer
// (text, files with progress and resume, voice messages), editing and deleting, read
// receipts, and the info panel (members, invite link and QR code, mute, clear, leave).

import { t } from '../shared/strings.js';
import { icon } from '../shared/icons.js';
import { byId, copyText, el, hueOf, initials, toasts } from '../shared/ui.js';
import {
  api, bytes, clockTime, dayLabel, duration, hooks, preview, roleName, state, systemText,
} from './api.js';
import { TusUpload } from './upload.js';
import { VoiceRecorder, clock, voiceSupported } from './voice.js';
import {
  addCaptionsTrack, captionsNode, captionsSignature, transcriptNode, transcriptSignature, updateCaptions, updateTranscript,
} from './speech.js';

const PAGE = 50;

/** The open chat: its info (GET /api/chats/{id}) and messages by seq. */
let chat = null;
let loadSerial = 0;

const enc = encodeURIComponent;
const chatPath = (id) => `/api/chats/${enc(id)}`;

function blankChat(id) {
  return {
    id,
    info: null,
    messages: new Map(), // seq -> message
    nodes: new Map(), // message id -> {key, speech, node}
    nextBefore: null,
    loadingOlder: false,
    readSent: 0,
    editing: null,
    listing: null,
  };
}

// ---- opening and closing ------------------------------------------------------------------

export async function openChat(id) {
  if (chat?.id === id && chat.info) {
    hooks.showPane('pane-chat');
    return;
  }
  const serial = ++loadSerial;
  closeInfo();
  chat = blankChat(id);
  state.openId = id;
  state.live?.focus(id);
  hooks.showPane('pane-chat');
  byId('message-list').replaceChildren(el('li', { class: 'msg-loading field-hint', text: t('loadingMessages') }));
  byId('chat-title').textContent = state.chats.find((c) => c.id === id)?.title ?? '';
  byId('chat-subtitle').textContent = '';
  byId('btn-older').hidden = true;
  byId('history-start').hidden = true;
  byId('uploads').replaceChildren();
  byId('pane-chat').dataset.loaded = 'false';
  let info;
  try {
    info = await api('GET', chatPath(id));
  } catch (error) {
    if (serial !== loadSerial) return;
    toasts.show({ kind: 'error', text: error.status === 404 ? t('chatGone') : error.message });
    hooks.navigate('/chats', { replace: true });
    return;
  }
  if (serial !== loadSerial) return;
  chat.info = info;
  showHeader();
  showComposer();
  if (info.member) {
    await loadPage(null);
  } else {
    byId('message-list').replaceChildren();
  }
  if (serial !== loadSerial) return;
  byId('pane-chat').dataset.loaded = 'true';
  scrollToEnd();
  markRead();
  if (!matchMedia('(max-width: 760px)').matches) byId('composer-text').focus({ preventScroll: true });
}

export function closeChat() {
  loadSerial++;
  if (chat) cancelEdit();
  chat = null;
  state.openId = null;
  state.live?.focus(null);
  closeInfo();
}

function listing() {
  return state.chats.find((c) => c.id === chat?.id) ?? null;
}

function showHeader() {
  const { info } = chat;
  byId('chat-title').textContent = info.title;
  const avatar = byId('chat-avatar');
  avatar.textContent = initials(info.title);
  avatar.style.setProperty('--hue', String(hueOf(info.title)));
  const count = info.members.length;
  const members = count === 1 ? t('memberOne') : t('membersCount', { count });
  byId('chat-subtitle').textContent = info.kind === 'channel' ? t('channelSubtitle', { count: members }) : members;
  byId('chat-head-main').setAttribute('aria-label', `${info.title}, ${members}. ${t('chatInfo')}`);
  document.title = `${info.title} - parta`;
}

function canPost() {
  const { info } = chat;
  return info.member && (info.kind === 'group' || ['owner', 'admin'].includes(info.role));
}

function canManage() {
  return ['owner', 'admin'].includes(chat?.info?.role);
}

function showComposer() {
  const note = byId('composer-note');
  const composer = byId('composer');
  note.replaceChildren();
  if (!chat.info.member) {
    note.append(
      el('span', { text: t('notMemberNote') }),
      el('button', {
        type: 'button', class: 'btn btn-primary btn-small', text: t('joinChat'),
        'aria-label': t('joinChatNamed', { title: chat.info.title }), 'data-testid': 'btn-join-chat',
        onclick: () => joinOpenChat(),
      }),
    );
    note.hidden = false;
    composer.hidden = true;
  } else if (!canPost()) {
    note.textContent = t('channelReadOnly');
    note.hidden = false;
    composer.hidden = true;
  } else {
    note.hidden = true;
    composer.hidden = false;
  }
  byId('recorder').hidden = true;
}

async function joinOpenChat() {
  const id = chat.id;
  try {
    await api('POST', `${chatPath(id)}/join`);
  } catch (error) {
    toasts.show({ kind: 'error', text: error.message });
    return;
  }
  chat = null;
  await hooks.refreshList(0);
  await openChat(id);
}

// ---- history ------------------------------------------------------------------------------

async function loadPage(before) {
  const current = chat;
  const query = `?limit=${PAGE}${before ? `&before=${before}` : ''}`;
  let page;
  try {
    page = await api('GET', `${chatPath(current.id)}/messages${query}`);
  } catch (error) {
    toasts.show({ kind: 'error', text: error.message });
    return;
  }
  if (chat !== current) return;
  for (const message of page.messages) current.messages.set(message.seq, message);
  current.nextBefore = page.next_before;
  renderMessages();
}

async function loadOlder() {
  if (!chat || chat.loadingOlder || !chat.nextBefore) return;
  chat.loadingOlder = true;
  const box = byId('messages');
  const fromBottom = box.scrollHeight - box.scrollTop;
  await loadPage(chat.nextBefore);
  box.scrollTop = box.scrollHeight - fromBottom; // keep what was on screen in place
  if (chat) chat.loadingOlder = false;
}

function nearBottom() {
  const box = byId('messages');
  return box.scrollHeight - box.scrollTop - box.clientHeight < 120;
}

function scrollToEnd() {
  const box = byId('messages');
  box.scrollTop = box.scrollHeight;
}

function sortedMessages() {
  return [...chat.messages.values()].sort((a, b) => a.seq - b.seq);
}

/** The highest seq another member has read (for "seen" marks on my messages). */
function othersRead() {
  let best = 0;
  for (const m of chat.info.members) if (m.profile_id !== chat.info.me) best = Math.max(best, m.last_read_seq ?? 0);
  return best;
}

function renderMessages() {
  const list = byId('message-list');
  const items = [];
  let lastDay = null;
  let previous = null;
  const seenUpTo = othersRead();
  for (const message of sortedMessages()) {
    const day = new Date(message.created_at).toDateString();
    if (day !== lastDay) {
      items.push(el('li', { class: 'day-sep', 'data-testid': 'day-separator' }, [el('span', { text: dayLabel(message.created_at) })]));
      lastDay = day;
      previous = null;
    }
    const mine = message.sender?.id === chat.info.me;
    const grouped = previous && previous.kind !== 'system' && message.kind !== 'system'
      && previous.sender?.id === message.sender?.id
      && new Date(message.created_at) - new Date(previous.created_at) < 5 * 60_000;
    const seen = mine && message.seq <= seenUpTo;
    const key = [message.edited_at, message.deleted, grouped, seen, message.text].join('|');
    const cached = chat.nodes.get(message.id);
    let node;
    if (cached && cached.key === key) {
      node = cached.node;
      updateSpeech(cached, message); // a transcript or captions arrived: in place
    } else {
      node = messageNode(message, { mine, grouped, seen });
      chat.nodes.set(message.id, { key, speech: speechSignature(message), node });
    }
    items.push(node);
    previous = message;
  }
  list.replaceChildren(...items);
  byId('btn-older').hidden = !chat.nextBefore;
  byId('history-start').hidden = !!chat.nextBefore || !chat.messages.size;
}

/** What of a message's speech part (transcript, captions) its node shows. */
function speechSignature(message) {
  if (message.kind === 'voice') return transcriptSignature(message);
  if (message.kind === 'recording') return captionsSignature(message);
  return '';
}

/** Swap a message node's transcript or captions for `message`'s, leaving its player be. */
function updateSpeech(cached, message) {
  const speech = speechSignature(message);
  if (cached.speech === speech || message.deleted) return;
  cached.speech = speech;
  if (message.kind === 'voice') updateTranscript(cached.node, message);
  else if (message.kind === 'recording') updateCaptions(cached.node, message);
}

function messageNode(message, { mine, grouped, seen }) {
  if (message.kind === 'system') return systemNode(message);
  const bubble = el('div', { class: 'bubble' });
  if (!mine && !grouped) {
    const name = message.sender?.full_name ?? t('sysSomeone');
    bubble.append(el('span', { class: 'msg-sender', text: name, style: `--hue: ${hueOf(name)}` }));
  }
  if (message.deleted) {
    bubble.append(el('p', { class: 'msg-text msg-deleted', text: t('messageDeleted') }));
  } else if (message.kind === 'file') {
    bubble.append(fileCard(message));
    if (message.text) bubble.append(el('p', { class: 'msg-text', text: message.text }));
  } else if (message.kind === 'voice') {
    bubble.append(voiceNode(message));
  } else if (message.kind === 'recording') {
    bubble.classList.add('bubble-recording');
    bubble.append(recordingCard(message));
  } else {
    bubble.append(el('p', { class: 'msg-text', 'data-testid': 'message-text', text: message.text }));
  }
  const meta = el('span', { class: 'msg-meta' });
  if (message.edited_at && !message.deleted) meta.append(el('span', { class: 'msg-edited', text: t('edited') }));
  meta.append(el('time', { datetime: message.created_at, text: clockTime(message.created_at), title: new Date(message.created_at).toLocaleString() }));
  if (mine && !message.deleted) {
    meta.append(el('span', {
      class: `msg-tick${seen ? ' seen' : ''}`,
      title: seen ? t('seen') : t('sentMark'),
      'aria-label': seen ? t('seen') : t('sentMark'),
      role: 'img',
      'data-testid': seen ? 'msg-seen' : 'msg-sent',
      html: icon('check') + (seen ? icon('check') : ''),
    }));
  }
  bubble.append(meta);
  const row = el('li', {
    class: `msg${mine ? ' mine' : ''}${grouped ? ' grouped' : ''}`,
    'data-seq': message.seq,
    'data-id': message.id,
    'data-kind': message.kind,
    'data-testid': 'message',
  }, [bubble]);
  const mayEdit = mine && message.kind === 'text';
  const mayDelete = mine || canManage();
  if (!message.deleted && (mayEdit || mayDelete)) {
    const items = [];
    if (mayEdit) items.push({ label: t('editMessage'), icon: 'edit', testid: 'menu-edit', onClick: () => startEdit(message) });
    if (mayDelete) items.push({ label: t('deleteMessage'), icon: 'trash', testid: 'menu-delete', danger: true, onClick: () => deleteMessage(message) });
    row.append(el('button', {
      type: 'button', class: 'btn btn-icon msg-more', html: icon('more'),
      'aria-label': t('messageActions'), title: t('messageActions'),
      'aria-haspopup': 'menu', 'aria-expanded': 'false', 'data-testid': 'message-menu',
      onclick: (event) => hooks.openMenu(event.currentTarget, items, t('messageActions')),
    }));
  }
  return row;
}

function systemNode(message) {
  const { text, link } = systemText(message);
  const line = el('p', { class: 'sys-text' }, [el('span', { text })]);
  if (link) {
    line.append(' — ', el('a', {
      href: link, class: 'sys-link', 'data-testid': 'system-link', text: t('sysJoinLesson'),
      'aria-label': `${t('sysJoinLesson')}: ${message.meta?.title ?? ''}`,
    }));
  }
  return el('li', {
    class: 'msg-system', 'data-seq': message.seq, 'data-id': message.id,
    'data-event': message.meta?.event ?? '', 'data-testid': 'system-message',
  }, [line]);
}

function fileCard(message) {
  const file = message.meta?.file ?? {};
  const type = (file.content_type ?? '').split(';')[0];
  const card = el('div', { class: 'file-card', 'data-testid': 'file-card' });
  if (/^image\/(png|jpeg|gif|webp)$/.test(type)) {
    card.append(el('a', { href: `${file.url}?inline=1`, target: '_blank', rel: 'noopener', class: 'file-preview' }, [
      el('img', { src: `${file.url}?inline=1`, alt: file.filename, loading: 'lazy' }),
    ]));
  }
  card.append(
    el('span', { class: 'file-icon', html: icon('file') }),
    el('span', { class: 'file-body' }, [
      el('span', { class: 'file-name', text: file.filename, 'data-testid': 'file-name' }),
      el('span', { class: 'file-size', text: bytes(file.size ?? 0) }),
    ]),
    el('a', {
      href: file.url, download: file.filename, class: 'btn btn-secondary btn-small file-download',
      'aria-label': t('downloadNamed', { name: file.filename }), title: t('downloadNamed', { name: file.filename }),
      'data-testid': 'file-download', html: `${icon('download')}<span>${t('download')}</span>`,
    }),
  );
  return card;
}

/**
 * A call recording (posted by the server when a recorded lesson ends): its picture,
 * title, length and size; Play opens an inline player in place of the picture.
 */
export function recordingCard(message) {
  const meta = message.meta ?? {};
  const file = meta.file ?? {};
  const title = meta.title || file.filename || t('recordingCardTitle');
  const length = duration(meta.duration);
  const src = file.url ? `${file.url}?inline=1` : '';
  const card = el('div', { class: 'rec-card', 'data-testid': 'recording-card' });
  const media = el('div', { class: 'rec-media' });
  const play = el('button', {
    type: 'button', class: 'rec-play', 'data-testid': 'recording-play',
    'aria-label': t('playRecordingNamed', { title }), title: t('playRecordingNamed', { title }),
  });
  if (meta.thumbnail) {
    play.append(el('img', {
      class: 'rec-thumb', src: `${meta.thumbnail}?inline=1`, alt: '', loading: 'lazy', 'data-testid': 'recording-thumbnail',
    }));
  } else {
    play.append(el('span', { class: 'rec-thumb rec-thumb-none' })); // no picture: the play mark alone
  }
  play.append(
    el('span', { class: 'rec-play-mark', html: icon('play') }),
    el('span', { class: 'rec-length', text: length, 'aria-hidden': 'true' }),
  );
  play.addEventListener('click', () => {
    const video = el('video', {
      class: 'rec-video', controls: true, autoplay: true, playsinline: true, preload: 'metadata', src,
      'aria-label': t('recordingVideoLabel', { title }), 'data-testid': 'recording-video',
    });
    // the captions may have come since the card was made
    addCaptionsTrack(video, chat?.messages.get(message.seq) ?? message);
    media.replaceChildren(video);
    video.play().catch(() => {}); // no autoplay allowed: the controls are there
    video.focus();
  });
  media.append(play);
  card.append(
    media,
    el('div', { class: 'rec-info' }, [
      el('span', { class: 'rec-kind', html: `${icon('video')}<span>${t('recordingCardTitle')}</span>` }),
      el('span', { class: 'rec-title', text: title, 'data-testid': 'recording-title' }),
      el('span', { class: 'rec-facts' }, [
        el('span', { class: 'rec-duration', text: length, 'aria-label': t('recordingDuration', { duration: length }), 'data-testid': 'recording-duration' }),
        el('span', { 'aria-hidden': 'true', text: ' · ' }),
        el('span', { class: 'rec-size', text: bytes(file.size ?? 0), 'data-testid': 'recording-size' }),
      ]),
      captionsNode(message),
    ]),
    el('a', {
      href: file.url, download: file.filename, class: 'btn btn-secondary btn-small rec-download',
      'aria-label': t('downloadNamed', { name: file.filename ?? title }), title: t('downloadNamed', { name: file.filename ?? title }),
      'data-testid': 'recording-download', html: `${icon('download')}<span>${t('download')}</span>`,
    }),
  );
  return card;
}

function voiceNode(message) {
  const file = message.meta?.file ?? {};
  const duration = message.meta?.duration ?? 0;
  const box = el('div', { class: 'voice', 'data-testid': 'voice-message' }, [
    el('span', { class: 'voice-icon', html: icon('mic') }),
    el('audio', {
      controls: true, preload: 'metadata', src: `${file.url}?inline=1`,
      'aria-label': t('voiceMessageOf', { duration: clock(duration) }), 'data-testid': 'voice-audio',
    }),
    el('span', { class: 'voice-duration', text: clock(duration) }),
  ]);
  return el('div', { class: 'voice-wrap' }, [box, transcriptNode(message)]);
}

// ---- reading --------------------------------------------------------------------------------

let readTimer = null;

function markRead() {
  if (!chat?.info?.member || document.hidden) return;
  const top = Math.max(0, ...chat.messages.keys());
  const entry = listing();
  const needed = top > chat.readSent || entry?.marked_unread || entry?.unread;
  if (!needed || !top) return;
  clearTimeout(readTimer);
  const current = chat;
  readTimer = setTimeout(async () => {
    if (chat !== current) return;
    current.readSent = top;
    try {
      await api('POST', `${chatPath(current.id)}/read`, { seq: top });
    } catch {
      current.readSent = 0;
    }
    hooks.refreshList();
  }, 300);
}

document.addEventListener('visibilitychange', () => {
  if (!document.hidden) markRead();
});

// ---- live events ----------------------------------------------------------------------------

export function onLiveEvent(event) {
  if (event.type === 'chat_left' && event.chat_id === chat?.id) {
    toasts.show({ kind: 'info', text: t('chatGone') });
    hooks.navigate('/chats', { replace: true });
    return;
  }
  if (!chat?.info) return;
  const chatId = event.chat_id ?? event.message?.chat_id;
  if (chatId !== chat.id) return;
  if (event.type === 'message_updated') {
    messageUpdated(event.message);
    return;
  }
  const stick = nearBottom();
  if (event.type === 'message' || event.type === 'message_edited') {
    const message = event.message;
    const known = chat.messages.get(message.seq);
    // the event's copy may lack names: keep what we know
    if (message.sender && !message.sender.full_name) {
      message.sender.full_name = known?.sender?.full_name
        ?? chat.info.members.find((m) => m.profile_id === message.sender.id)?.full_name ?? null;
    }
    chat.messages.set(message.seq, message);
    if (event.type === 'message' && message.kind === 'system') refreshInfo();
  } else if (event.type === 'message_deleted') {
    const message = chat.messages.get(event.seq);
    if (message) chat.messages.set(event.seq, { ...message, deleted: true, text: '' });
  } else if (event.type === 'read') {
    const member = chat.info.members.find((m) => m.profile_id === event.profile_id);
    if (member) member.last_read_seq = event.seq;
  }
  renderMessages();
  if (stick) scrollToEnd();
  if (event.type === 'message') markRead();
}

/**
 * A message changed without its author (its transcript or captions came): swap that
 * part of its node in place. Not new, so not unread and not marked read; the messages on
 * screen stay where they are (the end stays in view when it was).
 */
function messageUpdated(message) {
  const known = chat.messages.get(message.seq);
  if (!known || known.id !== message.id) return; // not loaded: a later page load shows it
  if (message.sender && !message.sender.full_name) message.sender.full_name = known.sender?.full_name ?? null;
  chat.messages.set(message.seq, message);
  const cached = chat.nodes.get(message.id);
  keepScroll(() => {
    if (cached?.node.isConnected && !known.deleted && known.text === message.text && known.edited_at === message.edited_at) {
      updateSpeech(cached, message);
    } else {
      renderMessages();
    }
  });
}

/** Run `change` on the message list without moving what is on screen. */
function keepScroll(change) {
  const box = byId('messages');
  const stick = nearBottom();
  const top = box.getBoundingClientRect().top;
  const anchor = [...byId('message-list').children].find((n) => n.getBoundingClientRect().bottom > top);
  const before = anchor?.getBoundingClientRect().top;
  change();
  if (stick) scrollToEnd();
  else if (anchor?.isConnected) box.scrollTop += anchor.getBoundingClientRect().top - before;
}

/** After the live socket came back: fetch what was missed. */
export async function onReconnected() {
  if (!chat?.info?.member) return;
  await loadPage(null);
  scrollToEnd();
  markRead();
}

async function refreshInfo() {
  const current = chat;
  try {
    const info = await api('GET', chatPath(current.id));
    if (chat !== current) return;
    current.info = info;
    showHeader();
    if (!byId('info-panel').hidden) renderInfo();
  } catch {
    // the next event tries again
  }
}

// ---- composing -------------------------------------------------------------------------------

function autoGrow() {
  const box = byId('composer-text');
  box.style.height = 'auto';
  box.style.height = `${Math.min(box.scrollHeight, 160)}px`;
}

async function sendText() {
  const box = byId('composer-text');
  const text = box.value.trim();
  if (!text || !chat) return;
  const current = chat;
  const editing = current.editing;
  box.value = '';
  autoGrow();
  try {
    if (editing) {
      cancelEdit();
      const edited = await api('PATCH', `${chatPath(current.id)}/messages/${enc(editing.id)}`, { text });
      if (chat === current) {
        current.messages.set(edited.seq, { ...current.messages.get(edited.seq), ...edited, sender: current.messages.get(edited.seq)?.sender ?? edited.sender });
        renderMessages();
      }
    } else {
      const message = await api('POST', `${chatPath(current.id)}/messages`, { text });
      if (chat === current) {
        current.messages.set(message.seq, message);
        renderMessages();
        scrollToEnd();
      }
    }
  } catch (error) {
    if (!box.value) box.value = text;
    autoGrow();
    toasts.show({ kind: 'error', text: t('sendFailed', { message: error.message }) });
  }
}

function startEdit(message) {
  chat.editing = message;
  const box = byId('composer-text');
  box.value = message.text;
  autoGrow();
  byId('edit-bar').hidden = false;
  byId('composer').classList.add('editing');
  box.focus();
}

function cancelEdit() {
  if (!chat?.editing) return;
  chat.editing = null;
  byId('edit-bar').hidden = true;
  byId('composer').classList.remove('editing');
  byId('composer-text').value = '';
  autoGrow();
}

async function deleteMessage(message) {
  const { ok } = await hooks.confirmBox({
    title: t('confirmDeleteTitle'), body: t('confirmDeleteBody'), ok: t('deleteMessage'),
  });
  if (!ok) return;
  try {
    await api('DELETE', `${chatPath(chat.id)}/messages/${enc(message.id)}`);
  } catch (error) {
    toasts.show({ kind: 'error', text: error.message });
  }
}

// ---- files ----------------------------------------------------------------------------------

/** Upload one file (or a recording) with a progress row; then post it to the chat. */
async function uploadAndPost(file, { name = null, type = null, body = null } = {}) {
  const chatId = chat.id;
  const label = name ?? file.name;
  const bar = el('progress', { max: 100, value: 0, 'aria-label': t('uploading', { name: label }) });
  const status = el('span', { class: 'upload-status', 'data-testid': 'upload-status', text: '' });
  const actions = el('span', { class: 'upload-actions' });
  const row = el('div', { class: 'upload-row', 'data-testid': 'upload-row', 'data-state': 'uploading' }, [
    el('span', { class: 'upload-icon', html: icon('upload') }),
    el('span', { class: 'upload-main' }, [
      el('span', { class: 'upload-name', text: label }),
      bar,
      status,
    ]),
    actions,
  ]);
  byId('uploads').append(row);
  const upload = new TusUpload(file, {
    chatId,
    name: label,
    type,
    onProgress: (done, total) => {
      bar.value = total ? Math.round((done / total) * 100) : 100;
      status.textContent = t('uploadProgress', { done: bytes(done), total: bytes(total) });
    },
    onState: (stateName, error) => {
      row.dataset.state = stateName;
      actions.replaceChildren();
      if (stateName === 'failed') {
        status.textContent = t('uploadFailed', { name: label, message: uploadRefusal(error) });
        if (error?.code !== 'too_large') { // a file too large never fits; the rest may, later
          actions.append(el('button', {
            type: 'button', class: 'btn btn-primary btn-small', 'data-testid': 'btn-resume',
            'aria-label': t('resumeNamed', { name: label }), html: `${icon('refresh')}<span>${t('resume')}</span>`,
            onclick: () => run(() => upload.resume()),
          }));
        }
      }
      if (stateName === 'uploading' || stateName === 'failed') {
        actions.append(el('button', {
          type: 'button', class: 'btn btn-icon', html: icon('close'), 'data-testid': 'btn-cancel-upload',
          'aria-label': t('cancelUpload', { name: label }), title: t('cancelUpload', { name: label }),
          onclick: () => {
            upload.cancel();
            row.remove();
          },
        }));
      }
    },
  });
  const run = async (step) => {
    let fileId;
    try {
      fileId = await step();
    } catch {
      return; // the row offers "Resume"
    }
    try {
      await api('POST', `${chatPath(chatId)}/messages`, body ? { ...body, file_id: fileId } : { file_id: fileId });
      row.remove();
    } catch (error) {
      status.textContent = t('sendFailed', { message: error.message });
    }
  };
  await run(() => upload.start());
}

/** Why an upload stopped, in the client's words where it has them. */
function uploadRefusal(error) {
  const words = {
    too_large: 'fileTooLarge',
    quota_exceeded: 'schoolStorageFull',
    too_many_uploads: 'tooManyUploads',
    uploads_too_large: 'uploadsTooLarge',
  }[error?.code];
  if (words) return t(words);
  return error?.message === 'network' ? t('networkError') : error?.message;
}

function pickFiles() {
  byId('file-input').click();
}

// ---- voice ------------------------------------------------------------------------------------

let recorder = null;

async function startRecording() {
  if (!voiceSupported()) {
    toasts.show({ kind: 'error', text: t('voiceUnsupported') });
    return;
  }
  recorder = new VoiceRecorder({ onTick: (s) => { byId('rec-timer').textContent = clock(s); } });
  try {
    await recorder.start();
  } catch (error) {
    recorder = null;
    const denied = error?.name === 'NotAllowedError';
    toasts.show({ kind: 'error', text: denied ? t('micDenied') : t('voiceFailed', { message: error.message }) });
    return;
  }
  byId('composer').hidden = true;
  byId('recorder').hidden = false;
  byId('btn-rec-send').focus();
}

function stopRecorderUi() {
  byId('recorder').hidden = true;
  if (chat?.info) showComposer();
  byId('btn-record').focus();
}

function cancelRecording() {
  recorder?.cancel();
  recorder = null;
  stopRecorderUi();
}

async function sendRecording() {
  if (!recorder) return;
  const current = recorder;
  recorder = null;
  const { blob, type, duration } = await current.stop();
  stopRecorderUi();
  if (!chat) return;
  const ext = type === 'audio/ogg' ? 'ogg' : 'webm';
  const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-');
  await uploadAndPost(blob, { name: `voice-${stamp}.${ext}`, type, body: { kind: 'voice', duration } });
}

// ---- the info panel -----------------------------------------------------------------------------

function openInfo() {
  if (!chat?.info) return;
  byId('info-panel').hidden = false;
  byId('btn-info').setAttribute('aria-expanded', 'true');
  byId('chat-head-main').setAttribute('aria-expanded', 'true');
  byId('chats-app').dataset.info = 'open';
  renderInfo();
  byId('btn-info-close').focus();
}

function closeInfo() {
  const wasOpen = !byId('info-panel').hidden;
  byId('info-panel').hidden = true;
  byId('btn-info').setAttribute('aria-expanded', 'false');
  byId('chat-head-main').setAttribute('aria-expanded', 'false');
  delete byId('chats-app').dataset.info;
  return wasOpen;
}

function section(title, children, testid) {
  return el('section', { class: 'info-section', 'data-testid': testid }, [
    el('h3', { class: 'section-title', text: title }), ...children,
  ]);
}

/** The chat's own state (mute...) from the list, even when the list shows a folder. */
async function findListing() {
  const found = listing();
  if (found || !chat?.info?.member) return found;
  for (const query of ['', '?archived=1']) {
    try {
      const hit = (await api('GET', `/api/chats${query}`)).chats.find((c) => c.id === chat?.id);
      if (hit) return hit;
    } catch {
      return null;
    }
  }
  return null;
}

async function renderInfo() {
  const current = chat;
  const entry = await findListing();
  if (chat !== current || !chat?.info) return;
  const { info } = chat;
  const body = byId('info-body');
  const parts = [
    el('div', { class: 'info-hero' }, [
      el('span', { class: 'avatar info-avatar', text: initials(info.title), style: `--hue: ${hueOf(info.title)}`, 'aria-hidden': 'true' }),
      el('h3', { class: 'info-title', text: info.title, 'data-testid': 'info-chat-title' }),
      el('p', { class: 'field-hint', text: byId('chat-subtitle').textContent }),
    ]),
  ];
  const inviteSlot = el('div', { class: 'invite-slot' });
  if (info.member) parts.push(section(t('inviteTitle'), [inviteSlot], 'info-invite'));

  if (info.member && entry) {
    const muted = entry.muted_until && new Date(entry.muted_until) > new Date();
    const far = muted && new Date(entry.muted_until).getFullYear() > 9000;
    const stateText = !muted ? t('notificationsOn')
      : far ? t('mutedForever') : t('mutedUntil', { time: new Date(entry.muted_until).toLocaleString([], { weekday: 'short', hour: '2-digit', minute: '2-digit' }) });
    const buttons = hooks.muteItems(entry).map((item) => el('button', {
      type: 'button', class: 'btn btn-secondary btn-small', 'data-testid': `info-${item.testid.replace('menu-', '')}`,
      html: `${icon(item.icon)}<span></span>`, onclick: item.onClick,
    }));
    buttons.forEach((b, i) => { b.querySelector('span').textContent = hooks.muteItems(entry)[i].label; });
    parts.push(section(t('notifications'), [
      el('p', { class: 'mute-state', 'data-testid': 'mute-state', html: icon(muted ? 'bellOff' : 'bell') }, [el('span', { text: stateText })]),
      el('div', { class: 'info-buttons' }, buttons),
    ], 'info-mute'));
  }

  const owner = info.role === 'owner';
  const members = [...info.members].sort((a, b) => {
    const rank = { owner: 0, admin: 1, member: 2 };
    return rank[a.role] - rank[b.role] || a.full_name.localeCompare(b.full_name);
  });
  parts.push(section(t('infoMembers', { count: members.length }), [el('ul', { class: 'people-list member-list', 'data-testid': 'member-list' },
    members.map((m) => {
      const actions = [];
      if (owner && m.profile_id !== info.me && m.role !== 'owner') {
        const makeAdmin = m.role === 'member';
        actions.push(el('button', {
          type: 'button', class: 'btn btn-secondary btn-small', 'data-testid': makeAdmin ? 'btn-make-admin' : 'btn-remove-admin',
          text: makeAdmin ? t('makeAdmin') : t('removeAdmin'),
          'aria-label': makeAdmin ? t('makeAdminNamed', { name: m.full_name }) : t('removeAdminNamed', { name: m.full_name }),
          onclick: async () => {
            try {
              await api('PATCH', `${chatPath(chat.id)}/members/${enc(m.profile_id)}`, { role: makeAdmin ? 'admin' : 'member' });
            } catch (error) {
              toasts.show({ kind: 'error', text: error.message });
            }
            refreshInfo();
          },
        }));
      }
      return el('li', { class: 'member', 'data-testid': 'member' }, [
        el('span', { class: 'avatar small', text: initials(m.full_name), style: `--hue: ${hueOf(m.full_name)}`, 'aria-hidden': 'true' }),
        el('span', { class: 'member-text' }, [
          el('span', { class: 'member-name', text: m.profile_id === info.me ? t('youSuffix', { name: m.full_name }) : m.full_name }),
          el('span', { class: 'member-role', text: roleName(m.profile_role) }),
        ]),
        m.role !== 'member' ? el('span', { class: 'role-badge', 'data-testid': 'member-role', text: roleName(m.role) }) : null,
        ...actions,
      ]);
    }))], 'info-members'));

  if (info.member) {
    parts.push(el('div', { class: 'info-danger' }, [
      el('button', {
        type: 'button', class: 'btn btn-secondary', 'data-testid': 'btn-clear-history',
        html: `${icon('trash')}<span>${t('clearHistory')}</span>`, onclick: clearHistory,
      }),
      el('button', {
        type: 'button', class: 'btn btn-danger', 'data-testid': 'btn-leave-chat',
        html: `${icon('logOut')}<span>${t('leaveChat')}</span>`, onclick: leaveChat,
      }),
    ]));
  }
  body.replaceChildren(...parts);
  if (info.member) fillInvite(inviteSlot);
}

async function fillInvite(slot, method = 'GET') {
  let invite;
  try {
    invite = await api(method, `${chatPath(chat.id)}/invite`);
  } catch (error) {
    slot.replaceChildren(el('p', { class: 'field-hint', text: error.message }));
    return;
  }
  const link = el('input', { type: 'text', readonly: true, class: 'invite-link-box', value: invite.url, 'aria-label': t('inviteTitle'), 'data-testid': 'invite-url' });
  const buttons = [
    el('button', {
      type: 'button', class: 'btn btn-primary btn-small', 'data-testid': 'btn-copy-invite',
      html: `${icon('copy')}<span>${t('copyLink')}</span>`,
      onclick: async () => {
        const ok = await copyText(invite.url);
        toasts.show({ kind: ok ? 'success' : 'error', text: ok ? t('linkCopied') : t('copyFailed'), timeout: 3000 });
      },
    }),
  ];
  if (canManage()) {
    buttons.push(el('button', {
      type: 'button', class: 'btn btn-secondary btn-small', 'data-testid': 'btn-renew-invite',
      'aria-label': t('renewInviteAria'), html: `${icon('refresh')}<span>${t('renewInvite')}</span>`,
      onclick: async () => {
        const { ok } = await hooks.confirmBox({ title: t('confirmRenewTitle'), body: t('confirmRenewBody'), ok: t('renewInvite') });
        if (!ok) return;
        await fillInvite(slot, 'POST');
        toasts.show({ kind: 'success', text: t('inviteRenewed') });
      },
    }));
  }
  slot.replaceChildren(
    el('p', { class: 'field-hint', text: t('inviteHint') }),
    link,
    el('div', { class: 'info-buttons' }, buttons),
    el('img', {
      class: 'invite-qr', src: `${invite.qr_svg}?v=${enc(invite.code)}`, alt: t('inviteQrAlt'),
      width: 200, height: 200, 'data-testid': 'invite-qr',
    }),
  );
}

async function clearHistory() {
  const { ok } = await hooks.confirmBox({ title: t('confirmClearTitle'), body: t('confirmClearBody'), ok: t('clear') });
  if (!ok) return;
  try {
    await api('POST', `${chatPath(chat.id)}/clear`);
  } catch (error) {
    toasts.show({ kind: 'error', text: error.message });
    return;
  }
  chat.messages.clear();
  chat.nodes.clear();
  chat.nextBefore = null;
  renderMessages();
  hooks.refreshList(0);
  toasts.show({ kind: 'success', text: t('historyCleared'), timeout: 3000 });
}

async function leaveChat() {
  const title = chat.info.title;
  const id = chat.id;
  const { ok, checked } = await hooks.confirmBox({
    title: t('confirmLeaveTitle', { title }), body: t('confirmLeaveBody'), ok: t('leaveChat'), check: t('alsoDeleteMine'),
  });
  if (!ok) return;
  try {
    await api('POST', `${chatPath(id)}/leave`, { delete_messages: checked });
  } catch (error) {
    toasts.show({ kind: 'error', text: error.message });
    return;
  }
  toasts.show({ kind: 'success', text: t('leftChat', { title }) });
  await hooks.refreshList(0);
  hooks.navigate('/chats');
}

// ---- wiring ---------------------------------------------------------------------------------------

hooks.stateChanged = (chatId) => {
  if (chat?.id === chatId && !byId('info-panel').hidden) renderInfo();
};

function wire() {
  byId('composer').addEventListener('submit', (event) => {
    event.preventDefault();
    sendText();
  });
  const box = byId('composer-text');
  box.addEventListener('input', autoGrow);
  box.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      sendText();
    } else if (event.key === 'Escape' && chat?.editing) {
      cancelEdit();
    } else if (event.key === 'ArrowUp' && !box.value && chat) {
      const mine = sortedMessages().filter((m) => m.sender?.id === chat.info.me && m.kind === 'text' && !m.deleted).pop();
      if (mine) {
        event.preventDefault();
        startEdit(mine);
      }
    }
  });
  byId('btn-edit-cancel').addEventListener('click', cancelEdit);
  byId('btn-attach').addEventListener('click', pickFiles);
  byId('file-input').addEventListener('change', (event) => {
    const files = [...event.target.files];
    event.target.value = '';
    for (const file of files) uploadAndPost(file);
  });
  // drop files on the chat
  const pane = byId('pane-chat');
  pane.addEventListener('dragover', (event) => {
    if (chat && canPost() && event.dataTransfer?.types.includes('Files')) event.preventDefault();
  });
  pane.addEventListener('drop', (event) => {
    if (!chat || !canPost()) return;
    event.preventDefault();
    for (const file of event.dataTransfer.files) uploadAndPost(file);
  });
  byId('btn-record').addEventListener('click', startRecording);
  byId('btn-rec-cancel').addEventListener('click', cancelRecording);
  byId('btn-rec-send').addEventListener('click', sendRecording);
  byId('btn-older').addEventListener('click', loadOlder);
  byId('messages').addEventListener('scroll', () => {
    if (byId('messages').scrollTop < 80) loadOlder();
    if (nearBottom()) markRead();
  }, { passive: true });
  byId('btn-info').addEventListener('click', () => (byId('info-panel').hidden ? openInfo() : closeInfo()));
  byId('chat-head-main').addEventListener('click', () => (byId('info-panel').hidden ? openInfo() : closeInfo()));
  byId('btn-info-close').addEventListener('click', () => {
    closeInfo();
    byId('btn-info').focus();
  });
  byId('btn-back').addEventListener('click', () => hooks.navigate('/chats'));
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && !document.querySelector('dialog[open]') && !document.querySelector('.menu') && closeInfo()) {
      byId('btn-info').focus();
    }
  });
}

wire();

export const _forTests = { current: () => chat, preview };
