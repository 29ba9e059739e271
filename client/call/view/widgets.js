// Small pieces the call screen's parts share: icons (with the broadcast one, which
// lives here), the controls bar's buttons, keeping children in order, the confirm dialog.

import { icon } from '../../shared/icons.js';
import { byId, el } from '../../shared/ui.js';

// "On air": a dot sending waves both ways — the Go live button and the LIVE badge.
const BROADCAST_PATH =
  '<circle cx="12" cy="12" r="2" fill="currentColor"/>' +
  '<path d="M16.24 7.76a6 6 0 0 1 0 8.49M7.76 16.25a6 6 0 0 1 0-8.49' +
  'M19.07 4.93a10 10 0 0 1 0 14.14M4.93 19.07a10 10 0 0 1 0-14.14"/>';

/** An icon from icons.js, or the broadcast one (which lives here). */
export function iconOf(name) {
  if (name !== 'broadcast') return icon(name);
  return (
    '<svg class="icon" viewBox="0 0 24 24" width="24" height="24" fill="none" ' +
    'stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" ' +
    `aria-hidden="true" focusable="false">${BROADCAST_PATH}</svg>`
  );
}

/** Make `container`'s children exactly `nodes`, in order, moving as few as possible. */
export function placeInOrder(container, nodes) {
  nodes.forEach((node, i) => {
    const current = container.children[i];
    if (current !== node) container.insertBefore(node, current ?? null);
  });
  while (container.children.length > nodes.length) container.lastElementChild.remove();
}

/** A modal "are you sure?" with Cancel focused; resolves true for the confirm button. */
export function confirmDialog({ title, body, ok }) {
  const dialog = byId('confirm');
  if (dialog.open) dialog.close('cancel');
  byId('confirm-title').textContent = title;
  byId('confirm-body').textContent = body;
  byId('confirm-ok').textContent = ok;
  dialog.returnValue = '';
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    dialog.showModal();
  });
}

export function setControl(id, {
  pressed, icon: iconName, off = false, active = false, locked = false, label, text, title,
}) {
  const button = byId(id);
  if (pressed !== undefined) button.setAttribute('aria-pressed', String(pressed));
  button.classList.toggle('off', off);
  button.classList.toggle('active', active);
  // Locked by a host: still focusable and with its tooltip, but it does nothing.
  button.classList.toggle('locked', locked);
  if (locked) button.setAttribute('aria-disabled', 'true');
  else button.removeAttribute('aria-disabled');
  let lockMark = button.querySelector('.ctrl-lock');
  if (locked && !lockMark) {
    lockMark = el('span', { class: 'ctrl-lock', 'aria-hidden': 'true', html: icon('lock') });
    button.append(lockMark);
  }
  if (lockMark) lockMark.hidden = !locked;
  button.setAttribute('aria-label', label);
  button.title = title;
  const iconBox = button.querySelector('.ctrl-icon');
  if (iconBox.dataset.iconName !== iconName) {
    iconBox.dataset.iconName = iconName;
    iconBox.innerHTML = iconOf(iconName);
  }
  if (text !== undefined) button.querySelector('.ctrl-label').textContent = text;
}
