// Small DOM helpers shared by the screens: element building, strings, toasts, clipboard.

import { t } from './strings.js';
import { icon } from './icons.js';

const MAX_TOASTS = 4;
const TOAST_MS = 7000;

export const byId = (id) => document.getElementById(id);

/** Build an element: props are attributes, except class, text, html, style and on<event>.
 * `style` goes through the CSSOM: the pages' Content-Security-Policy refuses style
 * attributes (no 'unsafe-inline'), not styles set from our own script. */
export function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key === 'html') node.innerHTML = value;
    else if (key === 'style') node.style.cssText = value;
    else if (key.startsWith('on') && typeof value === 'function') {
      node.addEventListener(key.slice(2), value);
    } else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of [].concat(children)) if (child != null) node.append(child);
  return node;
}

/** Fill the static markup's texts and icons from strings.js and icons.js. */
export function applyStrings(root = document) {
  document.documentElement.lang = t('lang');
  for (const node of root.querySelectorAll('[data-icon]')) {
    const label = node.dataset.i18nLabel;
    node.innerHTML = icon(node.dataset.icon) + (label ? `<span>${escapeHtml(t(label))}</span>` : '');
  }
  for (const node of root.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll('[data-i18n-placeholder]')) {
    node.placeholder = t(node.dataset.i18nPlaceholder);
  }
  for (const node of root.querySelectorAll('[data-i18n-aria]')) {
    node.setAttribute('aria-label', t(node.dataset.i18nAria));
  }
  for (const node of root.querySelectorAll('[data-i18n-title]')) node.title = t(node.dataset.i18nTitle);
}

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Up to two initials: "Anna Petrova" -> "AP", "anna" -> "A". */
export function initials(name) {
  const words = String(name).trim().split(/\s+/).filter(Boolean);
  const picked = words.length > 1 ? [words[0], words[words.length - 1]] : words;
  return picked.map((w) => [...w][0]).join('').toLocaleUpperCase() || '?';
}

// Calm, distinct avatar hues (blue, teal, amber, violet, rose, cyan, green, indigo, orange, magenta).
const AVATAR_HUES = [214, 168, 38, 268, 340, 190, 128, 244, 18, 300];

/** A stable hue per name, so a person keeps their avatar colour across calls. */
export function hueOf(name) {
  let hash = 0x811c9dc5; // FNV-1a: spreads similar names apart
  for (const ch of String(name)) hash = Math.imul(hash ^ ch.codePointAt(0), 0x01000193);
  return AVATAR_HUES[(hash >>> 0) % AVATAR_HUES.length];
}

/** Show one of the top-level screens (home, prejoin, call, left) and hide the others. */
export function showScreen(id) {
  for (const screen of document.querySelectorAll('.screen')) screen.hidden = screen.id !== id;
}

/** Tell screen-reader users about something that happened (joins, leaves). */
export function announce(text) {
  const node = byId('announcer');
  node.textContent = '';
  // A fresh text node after a tick makes repeated identical messages heard again.
  setTimeout(() => { node.textContent = text; }, 50);
}

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // No clipboard API (plain http) or no permission: fall back to a selection copy.
  }
  const area = el('textarea', { class: 'visually-hidden', readonly: true });
  area.value = text;
  document.body.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}

const TOAST_ICONS = { error: 'alert', success: 'check', info: 'alert', warning: 'alert' };

/**
 * Toasts: short messages on top of the page. `id` replaces an earlier toast with the same
 * id; `timeout: 0` keeps it until dismissed or hidden; `action` adds one button.
 */
export const toasts = {
  show({
    text, kind = 'info', id = null, timeout = TOAST_MS, dismissable = true, action = null, actions = [],
    icon: iconName = null,
  }) {
    const box = byId('toasts');
    if (id) this.hide(id);
    while (box.children.length >= MAX_TOASTS) box.firstElementChild.remove();
    const node = el('div', {
      class: `toast toast-${kind}`,
      role: kind === 'error' ? 'alert' : 'status',
      'data-toast-id': id,
      'data-testid': id ? `toast-${id}` : `toast-${kind}`,
    });
    const mark = kind === 'busy'
      ? el('span', { class: 'spinner', 'aria-hidden': 'true' })
      : el('span', { class: 'toast-icon', html: icon(iconName ?? TOAST_ICONS[kind] ?? 'alert') });
    node.append(mark, el('span', { class: 'toast-text', text }));
    for (const act of [action, ...actions].filter(Boolean)) {
      node.append(el('button', {
        type: 'button',
        class: `btn btn-small ${act.primary ? 'btn-primary' : 'btn-secondary'} toast-action`,
        text: act.label,
        'aria-label': act.ariaLabel,
        'data-testid': act.testid,
        onclick: () => { node.remove(); act.onClick(); },
      }));
    }
    if (dismissable) {
      node.append(el('button', {
        type: 'button',
        class: 'btn btn-icon toast-close',
        'aria-label': t('dismiss'),
        title: t('dismiss'),
        'data-testid': 'toast-dismiss',
        html: icon('close'),
        onclick: () => node.remove(),
      }));
    }
    box.append(node);
    if (timeout > 0) setTimeout(() => node.remove(), timeout);
    return node;
  },
  clear() {
    byId('toasts').replaceChildren();
  },
  hide(id) {
    for (const node of document.querySelectorAll(`[data-toast-id="${CSS.escape(id)}"]`)) node.remove();
  },
};
