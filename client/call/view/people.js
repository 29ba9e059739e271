// The people panel and what hosts do there: the waiting list (admit, deny), the invite
// link, each person's row with its host controls (mute, lock, co-host, remove), ending
// the call.

import { t } from '../../shared/strings.js';
import { icon } from '../../shared/icons.js';
import { byId, el, hueOf, initials, toasts } from '../../shared/ui.js';
import { isHostRole } from '../session.js';
import { confirmDialog, placeInOrder } from './widgets.js';

/**
 * Keep `container`'s keyed rows in step with `items` (each with an `id`): rows are made
 * once and updated in place, so that a click or the keyboard focus survives the frequent
 * re-renders (every change of active speaker re-renders).
 */
function syncRows(container, rows, items, create, update) {
  const seen = new Set();
  for (const item of items) {
    let row = rows.get(item.id);
    if (!row) {
      row = create(item);
      rows.set(item.id, row);
    }
    update(row, item);
    seen.add(item.id);
  }
  for (const [id, row] of rows) {
    if (seen.has(id)) continue;
    row.root.remove();
    rows.delete(id);
  }
  placeInOrder(container, items.map((item) => rows.get(item.id).root));
}

function chip({ testid, onclick, className = 'chip' }) {
  const node = el('button', { type: 'button', class: className, 'data-testid': testid, onclick });
  node.append(el('span', { class: 'chip-icon-box' }), el('span', { class: 'chip-text' }));
  return node;
}

/** A small action button; "disabled" ones stay focusable (aria-disabled) and do nothing. */
function setChip(node, { icon: iconName, text, label, disabled = false, unlock = false, testid }) {
  node.classList.toggle('chip-unlock', unlock);
  const box = node.querySelector('.chip-icon-box');
  if (box.dataset.iconName !== iconName) {
    box.dataset.iconName = iconName;
    box.innerHTML = icon(iconName);
  }
  node.querySelector('.chip-text').textContent = text;
  node.setAttribute('aria-label', label);
  node.title = label;
  if (disabled) node.setAttribute('aria-disabled', 'true');
  else node.removeAttribute('aria-disabled');
  if (testid) node.setAttribute('data-testid', testid);
}

function setMenuItem(node, iconName, text) {
  if (node.dataset.iconName !== iconName || node.dataset.text !== text) {
    node.dataset.iconName = iconName;
    node.dataset.text = text;
    node.innerHTML = icon(iconName);
    node.append(el('span', { text }));
  }
}

export const peopleMethods = {
  togglePanel(open = !this.panelOpen) {
    this.panelOpen = open;
    if (open) toasts.hide('waiting');
    this.renderNow();
    if (open) byId('panel-close').focus();
  },

  // ---- waiting room: hosts --------------------------------------------------------

  /** Someone started waiting: with the panel closed, a toast says so (with Admit). */
  onWaitingListChanged(arrivals) {
    const s = this.session;
    if (!s) return;
    const list = s.waitingList;
    const showing = !!document.querySelector('[data-toast-id="waiting"]');
    if (!s.isHost() || !list.length || this.panelOpen) {
      toasts.hide('waiting');
      return;
    }
    if (!arrivals.length && !showing) return;
    const newest = list[list.length - 1];
    toasts.show({
      id: 'waiting',
      kind: 'info',
      icon: 'clock',
      timeout: 0,
      text: list.length === 1
        ? t('isWaiting', { name: newest.name })
        : t('areWaiting', { name: newest.name, count: list.length - 1 }),
      actions: [
        {
          label: t('admit'),
          ariaLabel: t('admitName', { name: newest.name }),
          testid: 'toast-btn-admit',
          primary: true,
          onClick: () => s.admit(newest.id),
        },
        list.length > 1
          ? { label: t('showWaiting'), testid: 'toast-btn-show-waiting', onClick: () => this.togglePanel(true) }
          : null,
      ],
    });
  },

  async confirmEndCall() {
    const s = this.session;
    if (!s?.isHost()) return;
    const ok = await confirmDialog({
      title: t('confirmEndTitle'),
      body: t('confirmEndBody', { call: s.call }),
      ok: t('confirmEnd'),
    });
    if (ok && this.session === s) s.endCall();
  },

  /** "New link": the old one stops working, so ask first (Cancel is focused). */
  async confirmNewLink() {
    const s = this.session;
    if (!s?.isHost()) return;
    const ok = await confirmDialog({
      title: t(s.inviteLink ? 'confirmNewLinkTitle' : 'confirmNewLinkTitleOff'),
      body: t(s.inviteLink ? 'confirmNewLinkBody' : 'confirmNewLinkBodyOff'),
      ok: t('newLink'),
    });
    if (ok && this.session === s) s.newLink();
  },

  async confirmRevokeLink() {
    const s = this.session;
    if (!s?.isHost() || !s.inviteLink) return;
    const ok = await confirmDialog({
      title: t('confirmRevokeTitle'),
      body: t('confirmRevokeBody'),
      ok: t('turnOffLink'),
    });
    if (ok && this.session === s) s.revokeLink();
  },

  async confirmRemove(peerId) {
    const s = this.session;
    const peer = s?.peers.get(peerId);
    if (!peer) return;
    const ok = await confirmDialog({
      title: t('confirmRemoveTitle', { name: peer.name }),
      body: t('confirmRemoveBody'),
      ok: t('confirmRemove'),
    });
    if (ok && this.session === s) {
      if (this.expanded === peerId) this.expanded = null;
      s.removeParticipant(peerId);
    }
  },

  renderPanel(s) {
    const count = s.peers.size + 1;
    const host = s.isHost();
    byId('panel').hidden = !this.panelOpen;
    byId('panel').classList.toggle('hosting', host);
    byId('panel-title').textContent = t('participantsTitle', { count });
    byId('host-tools').hidden = !host;
    if (host) this.renderHostTools(s);

    const rows = [{
      id: s.peerId ?? 'local',
      self: true,
      name: t('youSuffix', { name: s.name }),
      avatarName: s.name,
      role: s.role,
      locked: [...s.locked],
      micOff: !s.local.microphone || s.muted.microphone,
      cameraOff: !s.local.camera || s.muted.camera,
      presenting: !!s.local.screen,
    }];
    for (const peer of s.peers.values()) {
      const find = (source) => peer.tracks.find((tr) => tr.source === source);
      rows.push({
        id: peer.id,
        self: false,
        name: peer.name,
        avatarName: peer.name,
        role: peer.role,
        locked: peer.locked,
        micOff: !find('microphone') || !!find('microphone').muted,
        cameraOff: !find('camera') || !!find('camera').muted,
        presenting: !!find('screen'),
      });
    }
    if (this.expanded && !rows.some((row) => row.id === this.expanded && !row.self)) this.expanded = null;
    const list = byId('people-list');
    syncRows(list, this.rows, rows, (row) => this.createPersonRow(row.id), (node, row) => {
      this.updatePersonRow(node, row, s, host);
    });
  },

  renderInvite(s) {
    const url = s.inviteUrl();
    const box = byId('invite-link');
    if (box.value !== (url ?? '')) box.value = url ?? '';
    box.hidden = !url;
    byId('invite-off').hidden = !!url;
    byId('invite-hint').textContent = t(url ? 'inviteLinkHint' : 'inviteLinkOffHint');
    byId('btn-copy-link').hidden = !url;
    byId('btn-revoke-link').hidden = !url;
    // Turned off, "New link" is the one way to let people in again: make it the main button.
    const renew = byId('btn-new-link');
    renew.classList.toggle('btn-primary', !url);
    renew.classList.toggle('btn-secondary', !!url);
  },

  renderHostTools(s) {
    this.renderInvite(s);
    const on = s.waitingRoom;
    const sw = byId('switch-waiting-room');
    sw.setAttribute('aria-checked', String(on));
    byId('waiting-room-label').textContent = t(on ? 'waitingRoomOn' : 'waitingRoomOff');
    byId('waiting-room-hint').textContent = t(on ? 'waitingRoomHintOn' : 'waitingRoomHintOff');
    const list = s.waitingList;
    byId('waiting-section').hidden = !list.length;
    byId('waiting-title').textContent = t('waitingListTitle', { count: list.length });
    const hadFocus = [...this.waitRows.values()].some((row) => row.root.contains(document.activeElement));
    syncRows(byId('waiting-people'), this.waitRows, list, (p) => this.createWaitingRow(p.id), (row, p) => {
      row.data = p;
      row.name.textContent = p.name;
      row.avatar.textContent = initials(p.name);
      row.avatar.style.setProperty('--hue', String(hueOf(p.name)));
      row.admit.setAttribute('aria-label', t('admitName', { name: p.name }));
      row.admit.title = t('admitName', { name: p.name });
      row.deny.setAttribute('aria-label', t('denyName', { name: p.name }));
      row.deny.title = t('denyName', { name: p.name });
    });
    // The row with focus went (admitted, denied, left): keep the keyboard in the panel.
    if (hadFocus && !byId('waiting-people').contains(document.activeElement)) {
      const next = byId('waiting-people').querySelector('button') ?? sw;
      next.focus();
    }
  },

  createWaitingRow(id) {
    const row = { data: null };
    row.avatar = el('span', { class: 'avatar small', 'aria-hidden': 'true' });
    row.name = el('span', { class: 'person-name' });
    row.admit = el('button', {
      type: 'button',
      class: 'btn btn-small btn-primary',
      text: t('admit'),
      'data-testid': `btn-admit-${id}`,
      onclick: () => this.session?.admit(row.data.id),
    });
    row.deny = el('button', {
      type: 'button',
      class: 'btn btn-small btn-secondary',
      text: t('deny'),
      'data-testid': `btn-deny-${id}`,
      onclick: () => this.session?.deny(row.data.id),
    });
    row.root = el('li', { class: 'person waiting-person', 'data-testid': `waiting-${id}` }, [
      el('div', { class: 'person-main' }, [
        row.avatar, row.name, el('span', { class: 'waiting-buttons' }, [row.admit, row.deny]),
      ]),
    ]);
    return row;
  },

  createPersonRow(id) {
    const row = { data: null, stateKey: '' };
    row.avatar = el('span', { class: 'avatar small', 'aria-hidden': 'true' });
    row.name = el('span', { class: 'person-name' });
    row.badge = el('span', { class: 'role-badge', 'data-testid': `person-badge-${id}` });
    row.states = el('span', { class: 'person-state' });
    const act = (fn) => () => { if (row.data && this.session?.isHost()) fn(row.data, this.session); };
    row.mic = chip({
      testid: `btn-mute-${id}`,
      onclick: act((p, s) => {
        if (p.locked.includes('microphone')) s.unlockParticipant(p.id, 'microphone');
        else if (!p.micOff) s.muteParticipant(p.id, 'microphone', false);
      }),
    });
    row.camera = chip({
      testid: `btn-camera-off-${id}`,
      onclick: act((p, s) => {
        if (p.locked.includes('camera')) s.unlockParticipant(p.id, 'camera');
        else if (!p.cameraOff) s.muteParticipant(p.id, 'camera', false);
      }),
    });
    row.more = chip({
      testid: `btn-more-${id}`,
      className: 'chip chip-icon',
      onclick: () => {
        this.expanded = this.expanded === id ? null : id;
        this.renderNow();
      },
    });
    row.more.setAttribute('aria-controls', `person-menu-${id}`);
    const menuItem = (testid, onclick, className = 'menu-item') => el('button', {
      type: 'button', class: className, 'data-testid': testid, onclick,
    });
    row.lockMic = menuItem(`btn-lock-microphone-${id}`, act((p, s) => {
      if (p.locked.includes('microphone')) s.unlockParticipant(p.id, 'microphone');
      else s.muteParticipant(p.id, 'microphone', true);
    }));
    row.lockCamera = menuItem(`btn-lock-camera-${id}`, act((p, s) => {
      if (p.locked.includes('camera')) s.unlockParticipant(p.id, 'camera');
      else s.muteParticipant(p.id, 'camera', true);
    }));
    row.cohost = menuItem(`btn-cohost-${id}`, act((p, s) => {
      s.setRole(p.id, p.role === 'cohost' ? 'participant' : 'cohost');
    }));
    row.remove = menuItem(`btn-remove-${id}`, act((p) => this.confirmRemove(p.id)), 'menu-item danger');
    row.menu = el('div', { class: 'person-menu', id: `person-menu-${id}`, role: 'group' }, [
      row.lockMic, row.lockCamera, row.cohost, row.remove,
    ]);
    row.actions = el('div', { class: 'person-actions' }, [row.mic, row.camera]);
    row.root = el('li', { class: 'person', 'data-testid': `person-${id}` }, [
      el('div', { class: 'person-main' }, [
        row.avatar,
        el('span', { class: 'person-text' }, [row.name, row.badge]),
        row.states,
        row.more,
      ]),
      row.actions,
      row.menu,
    ]);
    return row;
  },

  updatePersonRow(row, data, s, host) {
    row.data = data;
    row.root.classList.toggle('speaking', data.id === s.activeSpeaker);
    row.root.dataset.role = data.role;
    row.name.textContent = data.name;
    row.avatar.textContent = initials(data.avatarName);
    row.avatar.style.setProperty('--hue', String(hueOf(data.avatarName)));
    const roleText = isHostRole(data.role) ? t(data.role) : '';
    row.badge.hidden = !roleText;
    row.badge.textContent = roleText;

    const micLocked = data.locked.includes('microphone');
    const cameraLocked = data.locked.includes('camera');
    const states = [
      data.presenting ? ['presenting', 'presenting', t('presenting', { name: data.avatarName })] : null,
      cameraLocked ? ['lock', 'locked', t('lockedCamera')] : null,
      data.cameraOff ? ['cameraOff', 'cameraOff', t('cameraOff')] : null,
      micLocked ? ['lock', 'locked', t('lockedMic')] : null,
      data.micOff ? ['micOff', 'micOff', t('micOff')] : null,
    ].filter(Boolean);
    const stateKey = states.map((st) => st[2]).join('|');
    if (row.stateKey !== stateKey) {
      row.stateKey = stateKey;
      row.states.replaceChildren(...states.map(([iconName, cls, text]) => el('span', {
        class: `state-icon state-${cls}`, role: 'img', 'aria-label': text, title: text, html: icon(iconName),
      })));
    }

    // Host controls: for everyone but ourselves; the call's host cannot be removed or demoted.
    const controls = host && !data.self;
    const isTheHost = data.role === 'host';
    row.actions.hidden = !controls;
    // The call's host keeps their role and cannot be removed: no "More" for them.
    row.more.hidden = !controls || isTheHost;
    if (!controls || isTheHost) {
      row.menu.hidden = true;
      row.root.classList.remove('expanded');
      if (this.expanded === data.id) this.expanded = null;
    }
    if (!controls) return;
    const name = data.name;
    setChip(row.mic, micLocked
      ? {
        icon: 'unlock',
        text: t('unlockMicShort'),
        label: t('unlockMicName', { name }),
        unlock: true,
        testid: `btn-unlock-microphone-${data.id}`,
      }
      : {
        icon: data.micOff ? 'micOff' : 'mic',
        text: t(data.micOff ? 'muted' : 'mute'),
        label: data.micOff ? `${name}: ${t('micOff')}` : t('muteName', { name }),
        disabled: data.micOff,
        testid: `btn-mute-${data.id}`,
      });
    setChip(row.camera, cameraLocked
      ? {
        icon: 'unlock',
        text: t('unlockCameraShort'),
        label: t('unlockCameraName', { name }),
        unlock: true,
        testid: `btn-unlock-camera-${data.id}`,
      }
      : {
        icon: data.cameraOff ? 'cameraOff' : 'camera',
        text: t(data.cameraOff ? 'cameraIsOff' : 'turnOffCamera'),
        label: data.cameraOff ? `${name}: ${t('cameraOff')}` : t('turnOffCameraName', { name }),
        disabled: data.cameraOff,
        testid: `btn-camera-off-${data.id}`,
      });
    if (isTheHost) return;
    const expanded = this.expanded === data.id;
    setChip(row.more, { icon: 'more', label: t('moreFor', { name }), text: '' });
    row.more.setAttribute('aria-expanded', String(expanded));
    row.menu.hidden = !expanded;
    row.root.classList.toggle('expanded', expanded);
    setMenuItem(row.lockMic, micLocked ? 'unlock' : 'lock', t(micLocked ? 'unlockMic' : 'keepMicOff'));
    setMenuItem(row.lockCamera, cameraLocked ? 'unlock' : 'lock', t(cameraLocked ? 'unlockCamera' : 'keepCameraOff'));
    setMenuItem(row.cohost, 'shield', t(data.role === 'cohost' ? 'removeCohost' : 'makeCohost'));
    setMenuItem(row.remove, 'userX', t('removeFromCall'));
  },
};
