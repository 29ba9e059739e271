// A chat's invite landing page: shows what the invite leads to and walks the visitor
// through the steps that remain (log in, create a school profile, join).
import { t } from '../shared/strings.js';
import { icon } from '../shared/icons.js';
import { applyStrings, byId, el } from '../shared/ui.js';

const code = decodeURIComponent(location.pathname.split('/').pop() || '');
const STEPS = ['log_in', 'create_profile', 'join'];

function notify(text) {
  byId('invite-notice').textContent = text;
  byId('invite-notice').hidden = !text;
}

async function api(method, path, body) {
  try {
    const response = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body ? { 'Content-Type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    const data = await response.json().catch(() => ({}));
    return { ok: response.ok, status: response.status, data };
  } catch {
    return { ok: false, status: 0, data: { message: t('networkError') } };
  }
}

function stepText(step, title) {
  if (step === 'log_in') return t('stepLogIn');
  if (step === 'create_profile') return t('stepProfile');
  return t('stepJoin', { title });
}

async function refresh() {
  const { ok, data } = await api('GET', `/api/invites/${encodeURIComponent(code)}`);
  if (!ok) {
    byId('invite-title').textContent = t('inviteDeadTitle');
    notify(data.status === 0 ? data.message : t('inviteDeadBody'));
    byId('link-chats').hidden = false;
    return;
  }
  const { title, kind } = data.chat;
  document.title = `${title} - parta`;
  byId('invite-title').textContent = title;
  byId('invite-school').textContent = t(kind === 'channel' ? 'inviteToChannel' : 'inviteToChat', {
    title, school: data.organisation.name,
  });
  const open = new Set(data.steps.map((s) => s.step));
  const current = STEPS.find((s) => open.has(s));
  byId('invite-steps').replaceChildren(...STEPS.map((step) => {
    const done = !open.has(step);
    return el('li', {
      class: `invite-step${done ? ' done' : ''}${step === current ? ' current' : ''}`,
      'data-step': step,
      'aria-current': step === current ? 'step' : null,
    }, [
      el('span', { class: 'step-mark', 'aria-hidden': 'true', html: done ? icon('check') : '' }),
      el('span', { text: stepText(step, title) }),
      done ? el('span', { class: 'visually-hidden', text: ` (${t('stepDone')})` }) : null,
    ]);
  }));
  byId('invite-steps-box').hidden = false;
  byId('btn-login').hidden = data.logged_in;
  byId('profile-form').hidden = !data.logged_in || data.has_profile;
  const join = byId('btn-join');
  join.textContent = t('inviteJoin', { title });
  join.hidden = !data.logged_in || !data.has_profile || data.member;
  if (!byId('profile-form').hidden) byId('profile-code').focus();
  else if (!join.hidden) join.focus();
  if (data.member) location.assign(`/chats?chat=${encodeURIComponent(data.chat.id)}`);
}

byId('btn-login').addEventListener('click', () => {
  location.assign(`/login?next=${encodeURIComponent(location.pathname)}`);
});

byId('profile-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const body = Object.fromEntries(new FormData(event.target));
  for (const key of Object.keys(body)) body[key] = String(body[key]).trim();
  if (!body.code) return byId('profile-code').focus();
  if (!body.full_name) return byId('profile-name').focus();
  if (!body.class_name) delete body.class_name;
  const { ok, data } = await api('POST', '/api/profiles', body);
  if (!ok) return notify(t('profileFailed', { message: data.message || data.status }));
  notify('');
  return refresh();
});

byId('btn-join').addEventListener('click', async () => {
  const { ok, data } = await api('POST', `/api/invites/${encodeURIComponent(code)}/join`);
  if (!ok) return notify(t('joinFailed', { message: data.message || data.status }));
  return location.assign(`/chats?chat=${encodeURIComponent(data.id)}`);
});

applyStrings();
fetch('/api/me', { credentials: 'same-origin' }).then((r) => (r.ok ? r.json() : null)).then((me) => {
  const name = me?.user?.display_name;
  if (name && !byId('profile-name').value) byId('profile-name').value = name;
}).catch(() => {});
refresh();
