// parta chats: the list of chats (folders, archive, pins, unread, mute), routing between
// the list, an open chat and a school's page, live events and notifications.
//
//   /chats             the list; nothing open (or "join a school" when you have none)
//   /chats?chat=ID     that chat open
//   /school/ID         the school's page
//
// `window.partaChats` is there for tests.

import { t } from '../shared/strings.js';
import { icon } from '../shared/icons.js';
import { applyStrings, byId, el, hueOf, initials, toasts, announce } from '../shared/ui.js';
import {
  api, hooks, LiveEvents, preview, shortWhen, state,
} from './api.js';
import { closeChat, openChat, onLiveEvent, onReconnected } from './view.js';
import { openSchoolsDialog, showSchool, showWelcome, showSettings } from './school.js';

// ---- dialogs and menus ------------------------------------------------------------------

/** The shared dialog box, with a title and a body built by the caller. */
export function openDialog(title, body, testid = 'dialog') {
  const dialog = byId('dialog');
  byId('dialog-title').textContent = title;
  byId('dialog-body').replaceChildren(body);
  dialog.dataset.testid = testid;
  if (!dialog.open) dialog.showModal();
  const first = body.querySelector('input:not([type=hidden]), select, textarea, button');
  first?.focus();
  return dialog;
}

export function closeDialog() {
  const dialog = byId('dialog');
  if (dialog.open) dialog.close();
}

/** Ask before something that cannot be undone; resolves {ok, checked}. */
export function confirmBox({ title, body, ok, check = null, danger = true }) {
  const dialog = byId('confirm');
  byId('confirm-title').textContent = title;
  byId('confirm-body').textContent = body;
  const okButton = byId('confirm-ok');
  okButton.textContent = ok;
  okButton.className = `btn ${danger ? 'btn-danger' : 'btn-primary'}`;
  byId('confirm-check-row').hidden = !check;
  byId('confirm-check').checked = false;
  byId('confirm-check-label').textContent = check ?? '';
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      resolve({ ok: dialog.returnValue === 'ok', checked: byId('confirm-check').checked });
    }, { once: true });
  });
}

let openMenuNode = null;

export function closeMenu() {
  if (!openMenuNode) return;
  openMenuNode.anchor.setAttribute('aria-expanded', 'false');
  openMenuNode.remove();
  openMenuNode = null;
}

/** A small pop-up menu under `anchor`: items {label, icon, onClick, testid, danger}. */
export function openMenu(anchor, items, label) {
  const wasOpen = openMenuNode?.anchor === anchor;
  closeMenu();
  if (wasOpen) return;
  const menu = el('div', { class: 'menu', role: 'menu', 'aria-label': label, 'data-testid': 'menu' });
  for (const item of items) {
    if (item === '-') {
      menu.append(el('hr', { class: 'menu-sep', role: 'separator' }));
      continue;
    }
    menu.append(el('button', {
      type: 'button',
      role: 'menuitem',
      class: `menu-item${item.danger ? ' danger' : ''}`,
      'data-testid': item.testid,
      html: `${icon(item.icon ?? 'check')}<span></span>`,
      onclick: (event) => {
        event.stopPropagation();
        closeMenu();
        item.onClick();
      },
    }));
    menu.lastChild.querySelector('span').textContent = item.label;
  }
  menu.anchor = anchor;
  document.body.append(menu);
  const box = anchor.getBoundingClientRect();
  const width = menu.offsetWidth;
  const height = menu.offsetHeight;
  const left = Math.max(8, Math.min(box.right - width, window.innerWidth - width - 8));
  const below = box.bottom + 4;
  const top = below + height > window.innerHeight - 8 ? Math.max(8, box.top - height - 4) : below;
  menu.style.left = `${left}px`;
  menu.style.top = `${top}px`;
  anchor.setAttribute('aria-expanded', 'true');
  openMenuNode = menu;
  menu.addEventListener('keydown', (event) => {
    const buttons = [...menu.querySelectorAll('button')];
    const at = buttons.indexOf(document.activeElement);
    if (event.key === 'ArrowDown') buttons[(at + 1) % buttons.length].focus();
    else if (event.key === 'ArrowUp') buttons[(at - 1 + buttons.length) % buttons.length].focus();
    else return;
    event.preventDefault();
  });
  menu.querySelector('button')?.focus();
}

document.addEventListener('click', (event) => {
  if (openMenuNode && !openMenuNode.contains(event.target) && !openMenuNode.anchor.contains(event.target)) {
    closeMenu();
  }
});
document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape' && openMenuNode) {
    const { anchor } = openMenuNode;
    closeMenu();
    anchor.focus();
  }
});

// ---- the chat list ------------------------------------------------------------------------

function mutedNow(chat) {
  return chat.muted_until && new Date(chat.muted_until) > new Date();
}

function listQuery() {
  const { kind, id } = state.filter;
  if (kind === 'archived') return '?archived=1';
  if (kind === 'folder') return `?folder=${encodeURIComponent(id)}`;
  return '';
}

let listTimer = null;
let listSerial = 0;

/** Fetch the list again (soon: many events in a row make one request). */
export function refreshList(delay = 150) {
  clearTimeout(listTimer);
  return new Promise((resolve) => {
    listTimer = setTimeout(() => loadList().then(resolve, resolve), delay);
  });
}

async function loadList() {
  const serial = ++listSerial;
  let data;
  try {
    data = await api('GET', `/api/chats${listQuery()}`);
  } catch {
    byId('chat-list').dataset.loaded = 'false';
    return;
  }
  if (serial !== listSerial) return;
  state.chats = data.chats;
  renderList();
}

function emptyText() {
  if (state.filter.kind === 'archived') return t('listEmptyArchived');
  if (state.filter.kind === 'folder') return t('listEmptyFolder');
  return t('listEmpty');
}

function renderList() {
  const list = byId('chat-list');
  const items = state.chats.map(chatItem);
  list.replaceChildren(...items);
  list.dataset.loaded = 'true';
  const empty = byId('list-empty');
  empty.hidden = state.chats.length > 0;
  empty.textContent = emptyText();
  const unread = state.chats.reduce((sum, c) => sum + (mutedNow(c) ? 0 : c.unread), 0);
  document.title = unread ? `(${unread}) ${t('chatsTitle')} - parta` : `${t('chatsTitle')} - parta`;
}

function chatItem(chat) {
  const active = chat.id === state.openId;
  const unread = chat.unread > 0 || chat.marked_unread;
  const muted = mutedNow(chat);
  const last = chat.last_message;
  const marks = [];
  if (chat.kind === 'channel') marks.push(['channel', t('channelMark')]);
  if (chat.pinned_order != null) marks.push(['bookmark', t('pinnedMark')]);
  if (muted) marks.push(['bellOff', t('mutedMark')]);
  const who = last?.sender?.full_name && last.kind !== 'system' ? `${last.sender.full_name}: ` : '';
  const badgeText = chat.unread > 0 ? String(chat.unread) : '';
  const link = el('a', {
    href: `/chats?chat=${encodeURIComponent(chat.id)}`,
    class: 'chat-link',
    'data-testid': 'chat-link',
    'aria-current': active ? 'page' : null,
    onclick: (event) => {
      if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
      event.preventDefault();
      navigate(`/chats?chat=${encodeURIComponent(chat.id)}`);
    },
  }, [
    el('span', { class: 'avatar small chat-avatar', 'aria-hidden': 'true', text: initials(chat.title), style: `--hue: ${hueOf(chat.title)}` }),
    el('span', { class: 'chat-item-body' }, [
      el('span', { class: 'chat-item-top' }, [
        el('span', { class: 'chat-item-title', text: chat.title, 'data-testid': 'chat-item-title' }),
        el('span', {
          class: 'chat-marks',
          html: marks.map(([name, label]) => `<span class="chat-mark" title="${label}">${icon(name)}</span>`).join(''),
        }),
        el('span', { class: 'chat-item-time', text: last ? shortWhen(last.created_at) : '' }),
      ]),
      el('span', { class: 'chat-item-bottom' }, [
        el('span', { class: 'chat-item-preview', text: who + preview(last) }),
        unread ? el('span', {
          class: `badge${muted ? ' badge-muted' : ''}${badgeText ? '' : ' badge-dot'}`,
          'data-testid': 'unread-badge',
          text: badgeText,
        }) : null,
      ]),
    ]),
  ]);
  // what a screen reader hears: the title, then what matters
  const said = [chat.title];
  if (chat.unread > 0) said.push(t('unreadCount', { count: chat.unread }));
  else if (chat.marked_unread) said.push(t('markedUnread'));
  for (const [, label] of marks) said.push(label);
  link.setAttribute('aria-label', said.join(', '));
  const more = el('button', {
    type: 'button',
    class: 'btn btn-icon chat-more',
    'aria-label': t('chatActions', { title: chat.title }),
    title: t('chatActions', { title: chat.title }),
    'aria-haspopup': 'menu',
    'aria-expanded': 'false',
    'data-testid': 'chat-menu',
    html: icon('more'),
    onclick: (event) => openMenu(event.currentTarget, chatMenu(chat), t('chatActions', { title: chat.title })),
  });
  return el('li', {
    class: `chat-item${active ? ' active' : ''}${unread ? ' unread' : ''}`,
    'data-chat-id': chat.id,
    'data-testid': 'chat-item',
  }, [link, more]);
}

/** PATCH /api/chats/{id}/state, then show the list again. */
export async function setChatState(chatId, values, done = null) {
  try {
    await api('PATCH', `/api/chats/${encodeURIComponent(chatId)}/state`, values);
    if (done) toasts.show({ kind: 'success', text: done, id: 'chat-state', timeout: 3000 });
  } catch (error) {
    toasts.show({ kind: 'error', text: error.message });
  }
  await refreshList(0);
  hooks.stateChanged?.(chatId);
}

export function muteItems(chat) {
  const at = (hours) => new Date(Date.now() + hours * 3600_000).toISOString();
  if (mutedNow(chat)) {
    return [{
      label: t('unmuteChat'), icon: 'bell', testid: 'menu-unmute',
      onClick: () => setChatState(chat.id, { muted_until: null }),
    }];
  }
  return [
    { label: t('mute1h'), icon: 'bellOff', testid: 'menu-mute-1h', onClick: () => setChatState(chat.id, { muted_until: at(1) }) },
    { label: t('mute8h'), icon: 'bellOff', testid: 'menu-mute-8h', onClick: () => setChatState(chat.id, { muted_until: at(8) }) },
    {
      label: t('muteForever'), icon: 'bellOff', testid: 'menu-mute-forever',
      onClick: () => setChatState(chat.id, { muted_until: '9999-12-31T00:00:00+00:00' }),
    },
  ];
}

function chatMenu(chat) {
  const pinned = chat.pinned_order != null;
  const unread = chat.unread > 0 || chat.marked_unread;
  const nextPin = Math.max(0, ...state.chats.map((c) => c.pinned_order ?? 0)) + 1;
  const items = [
    {
      label: pinned ? t('unpinChat') : t('pinChat'), icon: 'bookmark', testid: 'menu-pin',
      onClick: () => setChatState(chat.id, { pinned_order: pinned ? null : nextPin }),
    },
    {
      label: unread ? t('markRead') : t('markUnread'), icon: 'eye', testid: 'menu-unread',
      onClick: () => (unread
        ? api('POST', `/api/chats/${encodeURIComponent(chat.id)}/read`, { seq: chat.last_message?.seq ?? 0 })
          .catch(() => {}).then(() => refreshList(0))
        : setChatState(chat.id, { marked_unread: true })),
    },
    ...muteItems(chat),
    '-',
  ];
  for (const folder of state.folders) {
    const inside = chat.folder_id === folder.id;
    items.push({
      label: inside ? t('removeFromFolder', { name: folder.name }) : t('moveToFolder', { name: folder.name }),
      icon: 'folder',
      testid: 'menu-folder',
      onClick: () => setChatState(chat.id, { folder_id: inside ? null : folder.id }),
    });
  }
  items.push({
    label: chat.archived ? t('unarchiveChat') : t('archiveChat'), icon: 'archive', testid: 'menu-archive',
    onClick: () => setChatState(chat.id, { archived: !chat.archived }),
  });
  return items;
}

// ---- folders ------------------------------------------------------------------------------

async function loadFolders() {
  try {
    state.folders = (await api('GET', '/api/folders')).folders;
  } catch {
    state.folders = [];
  }
  if (state.filter.kind === 'folder' && !state.folders.some((f) => f.id === state.filter.id)) {
    state.filter = { kind: 'all', id: null };
  }
  renderTabs();
}

function renderTabs() {
  const tab = (kind, id, label, testid) => {
    const selected = state.filter.kind === kind && state.filter.id === id;
    return el('button', {
      type: 'button',
      role: 'tab',
      class: 'folder-tab',
      'aria-selected': String(selected),
      'data-testid': testid,
      'data-folder-id': id,
      text: label,
      onclick: () => {
        state.filter = { kind, id };
        renderTabs();
        refreshList(0);
      },
    });
  };
  byId('folder-tabs').replaceChildren(
    tab('all', null, t('folderAll'), 'folder-tab-all'),
    ...state.folders.map((f) => tab('folder', f.id, f.name, 'folder-tab')),
    tab('archived', null, t('folderArchived'), 'folder-tab-archived'),
  );
}

function foldersDialog() {
  const body = el('div', { class: 'dialog-stack', 'data-testid': 'folders-dialog' });
  const redraw = async () => {
    await loadFolders();
    fill();
  };
  const fail = (error) => toasts.show({ kind: 'error', text: t('folderFailed', { message: error.message }) });
  const fill = () => {
    const rows = state.folders.map((folder) => {
      const input = el('input', {
        type: 'text', maxlength: 64, value: folder.name, 'aria-label': t('folderNameLabel', { name: folder.name }),
        'data-testid': 'input-folder-name',
      });
      return el('li', { class: 'folder-row', 'data-testid': 'folder-row' }, [
        input,
        el('button', {
          type: 'button', class: 'btn btn-secondary btn-small', text: t('renameFolder'),
          'aria-label': t('renameFolderNamed', { name: folder.name }), 'data-testid': 'btn-rename-folder',
          onclick: () => api('PATCH', `/api/folders/${folder.id}`, { name: input.value.trim() }).then(redraw, fail),
        }),
        el('button', {
          type: 'button', class: 'btn btn-icon', html: icon('trash'),
          'aria-label': t('deleteFolderNamed', { name: folder.name }), title: t('deleteFolder'),
          'data-testid': 'btn-delete-folder',
          onclick: async () => {
            const { ok } = await confirmBox({
              title: t('confirmDeleteFolderTitle', { name: folder.name }),
              body: t('confirmDeleteFolderBody'),
              ok: t('deleteFolder'),
            });
            if (ok) await api('DELETE', `/api/folders/${folder.id}`).then(redraw, fail);
            refreshList(0);
          },
        }),
      ]);
    });
    const name = el('input', {
      id: 'new-folder-name', type: 'text', maxlength: 64, placeholder: t('newFolderPlaceholder'),
      'data-testid': 'input-new-folder',
    });
    const form = el('form', {
      class: 'field', novalidate: true,
      onsubmit: (event) => {
        event.preventDefault();
        if (!name.value.trim()) return name.focus();
        return api('POST', '/api/folders', { name: name.value.trim() }).then(redraw, fail);
      },
    }, [
      el('label', { for: 'new-folder-name', text: t('newFolderLabel') }),
      el('div', { class: 'input-row' }, [
        name,
        el('button', { type: 'submit', class: 'btn btn-primary', text: t('addFolder'), 'data-testid': 'btn-add-folder' }),
      ]),
    ]);
    body.replaceChildren(
      el('p', { class: 'field-hint', text: t('foldersIntro') }),
      rows.length ? el('ul', { class: 'folder-rows' }, rows) : el('p', { class: 'field-hint', text: t('noFolders') }),
      form,
    );
  };
  fill();
  openDialog(t('foldersTitle'), body, 'folders-dialog');
}

// ---- new chat -------------------------------------------------------------------------------

function newChatDialog() {
  const profiles = state.me?.profiles ?? [];
  if (!profiles.length) {
    toasts.show({ kind: 'info', text: t('needSchoolFirst') });
    openSchoolsDialog();
    return;
  }
  const error = el('p', { class: 'form-error', role: 'alert', 'data-testid': 'new-chat-error', hidden: true });
  const title = el('input', {
    id: 'new-chat-title', type: 'text', required: true, maxlength: 128,
    placeholder: t('chatTitlePlaceholder'), 'data-testid': 'input-chat-title',
  });
  const school = el('select', { id: 'new-chat-school', 'data-testid': 'select-school' },
    profiles.map((p) => el('option', { value: p.org.id, text: p.org.name })));
  const canChannel = (orgId) => {
    const profile = profiles.find((p) => p.org.id === orgId);
    return profile?.role === 'teacher' || (state.me?.admin_of ?? []).some((o) => o.id === orgId);
  };
  const kindRadio = (value, label, testid) => el('label', { class: 'check' }, [
    el('input', { type: 'radio', name: 'kind', value, checked: value === 'group', 'data-testid': testid }),
    el('span', { text: label }),
  ]);
  const channelRow = kindRadio('channel', t('kindChannel'), 'radio-channel');
  const channelHint = el('p', { class: 'field-hint', text: t('channelHint') });
  const syncKinds = () => {
    const allowed = canChannel(school.value);
    channelRow.hidden = !allowed;
    channelHint.hidden = allowed;
    if (!allowed) form.querySelector('input[value=group]').checked = true;
  };
  const isPublic = el('input', { type: 'checkbox', 'data-testid': 'check-public' });
  const submit = el('button', { type: 'submit', class: 'btn btn-primary btn-wide', text: t('create'), 'data-testid': 'btn-create-chat' });
  const form = el('form', {
    class: 'dialog-stack', novalidate: true, 'data-testid': 'new-chat-form',
    onsubmit: async (event) => {
      event.preventDefault();
      error.hidden = true;
      if (!title.value.trim()) {
        error.textContent = t('chatTitleRequired');
        error.hidden = false;
        title.focus();
        return;
      }
      submit.disabled = true;
      submit.textContent = t('creating');
      try {
        const made = await api('POST', '/api/chats', {
          org_id: school.value,
          title: title.value.trim(),
          kind: form.querySelector('input[name=kind]:checked').value,
          public: isPublic.checked,
        });
        closeDialog();
        await refreshList(0);
        navigate(`/chats?chat=${encodeURIComponent(made.id)}`);
      } catch (failure) {
        error.textContent = t('createFailed', { message: failure.message });
        error.hidden = false;
      } finally {
        submit.disabled = false;
        submit.textContent = t('create');
      }
    },
  }, [
    el('div', { class: 'field' }, [el('label', { for: 'new-chat-title', text: t('chatTitleLabel') }), title]),
    el('div', { class: 'field', hidden: profiles.length < 2 }, [el('label', { for: 'new-chat-school', text: t('school') }), school]),
    el('fieldset', { class: 'checks' }, [
      el('legend', { text: t('chatKind') }),
      kindRadio('group', t('kindGroup'), 'radio-group'),
      channelRow,
      channelHint,
    ]),
    el('label', { class: 'check' }, [isPublic, el('span', { text: t('publicCheck') })]),
    error,
    submit,
  ]);
  school.addEventListener('change', syncKinds);
  syncKinds();
  openDialog(t('newChatTitle'), form, 'new-chat-dialog');
}

// ---- notifications ------------------------------------------------------------------------

function notify(event) {
  refreshList();
  if (event.silent) return; // outside working hours: only the badge changes
  const message = event.message ?? {};
  const who = message.sender?.full_name;
  const text = who ? `${who}: ${preview(message)}` : preview(message);
  toasts.show({
    kind: 'info',
    icon: 'message',
    id: `note-${event.chat_id}`,
    text: t('notificationFrom', { title: event.title, text }),
    action: {
      label: t('openChat'),
      ariaLabel: t('openChatNamed', { title: event.title }),
      testid: 'toast-open',
      primary: true,
      onClick: () => navigate(`/chats?chat=${encodeURIComponent(event.chat_id)}`),
    },
  });
  if ('Notification' in window && Notification.permission === 'granted' && document.hidden) {
    const shown = new Notification(event.title, { body: text, tag: event.chat_id });
    shown.onclick = () => {
      window.focus();
      navigate(`/chats?chat=${encodeURIComponent(event.chat_id)}`);
    };
  }
}

function onEvent(event) {
  switch (event.type) {
    case 'notification':
      notify(event);
      break;
    case 'message':
    case 'message_deleted':
    case 'read':
    case 'chat_left':
      onLiveEvent(event);
      refreshList();
      break;
    case 'message_edited':
      onLiveEvent(event);
      break;
    case 'message_updated': // a transcript or captions came: not new, so no notice
      onLiveEvent(event);
      refreshList(); // the list's preview of a voice message shows its text
      break;
    case 'resync': // the server may have missed events for us: read everything again
      refreshList(0);
      onReconnected();
      break;
    default:
      break;
  }
}

function onStatus(status, again) {
  const node = byId('live-status');
  node.dataset.status = status;
  node.textContent = status === 'offline' ? t('liveOffline') : '';
  byId('chats-app').dataset.live = status;
  if (status === 'online' && again) {
    refreshList(0);
    onReconnected();
  }
}

// ---- routing ------------------------------------------------------------------------------

export function navigate(url, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', url);
  else if (`${location.pathname}${location.search}` !== url) history.pushState(null, '', url);
  route();
}

export function setView(view) {
  byId('chats-app').dataset.view = view;
}

export function showPane(id) {
  for (const pane of ['pane-empty', 'pane-welcome', 'pane-school', 'pane-chat']) byId(pane).hidden = pane !== id;
}

function route() {
  closeMenu();
  const school = /^\/school\/([^/]+)\/?$/.exec(location.pathname);
  const chatId = new URLSearchParams(location.search).get('chat');
  if (school) {
    closeChat();
    setView('main');
    showSchool(decodeURIComponent(school[1]));
  } else if (chatId) {
    setView('main');
    openChat(chatId);
  } else {
    closeChat();
    setView('list');
    const hasSchool = (state.me?.profiles ?? []).length > 0 || (state.me?.admin_of ?? []).length > 0;
    if (hasSchool) showPane('pane-empty');
    else showWelcome();
  }
  renderList();
  renderSchoolLinks();
}

export function renderSchoolLinks() {
  const seen = new Map();
  for (const p of state.me?.profiles ?? []) seen.set(p.org.id, { name: p.org.name, role: p.role });
  for (const o of state.me?.admin_of ?? []) if (!seen.has(o.id)) seen.set(o.id, { name: o.name, role: 'admin' });
  const links = [...seen].map(([id, { name, role }]) => el('a', {
    href: `/school/${encodeURIComponent(id)}`,
    class: 'school-link',
    'data-testid': 'school-link',
    'aria-current': location.pathname === `/school/${encodeURIComponent(id)}` ? 'page' : null,
    onclick: (event) => {
      event.preventDefault();
      navigate(`/school/${encodeURIComponent(id)}`);
    },
    html: icon('school'),
  }, [el('span', { class: 'school-link-name', text: name }), el('span', { class: 'school-link-role', text: role === 'admin' ? t('adminMark') : t({ teacher: 'roleTeacher', student: 'roleStudent', parent: 'roleParent' }[role]) })]));
  byId('school-links').replaceChildren(...links);
}

export async function loadMe() {
  try {
    state.me = await api('GET', '/api/me');
  } catch {
    state.me = state.me ?? { profiles: [], admin_of: [] };
  }
  renderSchoolLinks();
  return state.me;
}

/** Another page sent us here for Settings (/chats#settings) or straight to its
 * "Change password" (/chats#change-password, the home page's account bar). */
function openAsked() {
  const asked = location.hash.slice(1);
  if (asked !== 'settings' && asked !== 'change-password') return;
  history.replaceState(null, '', `${location.pathname}${location.search}`);
  showSettings();
  if (asked === 'change-password') byId('dialog')?.querySelector('[data-testid="btn-change-password"]')?.click();
}

async function boot() {
  applyStrings();
  hooks.refreshList = refreshList;
  hooks.navigate = navigate;
  hooks.openMenu = openMenu;
  hooks.confirmBox = confirmBox;
  hooks.openDialog = openDialog;
  hooks.closeDialog = closeDialog;
  hooks.setChatState = setChatState;
  hooks.muteItems = muteItems;
  hooks.setView = setView;
  hooks.showPane = showPane;
  hooks.loadMe = loadMe;
  hooks.renderList = renderList;
  hooks.announce = announce;
  byId('btn-new-chat').addEventListener('click', newChatDialog);
  byId('btn-folders').addEventListener('click', foldersDialog);
  byId('btn-schools').addEventListener('click', openSchoolsDialog);
  byId('btn-settings').addEventListener('click', showSettings);
  byId('dialog-close').addEventListener('click', closeDialog);
  window.addEventListener('popstate', route);
  await loadMe();
  await loadFolders();
  await loadList();
  route();
  state.live = new LiveEvents({ onEvent, onStatus });
  openAsked();
  window.partaChats = { state, refreshList, navigate };
  byId('chats-app').dataset.ready = 'true';
}

boot();
