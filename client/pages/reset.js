// A password reset link's page (/reset/<token>): a school's admin made the link for a
// member who forgot their password. GET /api/password-resets/<token> says whom it is for;
// POST it with the new password: the server sets it, logs the user in (a cookie), and the
// page goes on to /chats. A link that was used, has expired or was replaced says so.

import { t } from '../shared/strings.js';
import { applyStrings, byId } from '../shared/ui.js';

const MIN_PASSWORD = 8;
const MAX_PASSWORD = 256;

const token = decodeURIComponent(location.pathname.split('/').pop() || '');
const endpoint = `/api/password-resets/${encodeURIComponent(token)}`;
const form = byId('reset-form');
const notice = byId('reset-notice');
const submit = byId('reset-submit');
const password = byId('reset-password');
const passwordError = byId('reset-password-error');
let busy = false;

function when(iso) {
  return new Date(iso).toLocaleString([], {
    weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit',
  });
}

function showNotice(text, kind = 'error') {
  notice.textContent = text ?? '';
  notice.hidden = !text;
  notice.classList.toggle('notice-error', kind === 'error');
  notice.classList.toggle('notice-info', kind === 'info');
}

function setFieldError(key) {
  passwordError.textContent = key ? t(key) : '';
  password.setAttribute('aria-invalid', String(!!key));
}

/** The link does not work (used, expired or replaced): say so, and where to go. */
function showDead() {
  form.dataset.state = 'dead';
  byId('reset-title').textContent = t('resetDeadTitle');
  document.title = `${t('resetDeadTitle')} — ${t('appName')}`;
  byId('reset-intro').hidden = true;
  byId('reset-fields').hidden = true;
  showNotice(t('resetDeadBody'), 'warning');
  byId('reset-to-login').hidden = false;
}

function showForm(info) {
  form.dataset.state = 'ready';
  byId('reset-intro').textContent = t('resetFor', { name: info.display_name, login: info.login });
  byId('reset-login').value = info.login;
  byId('reset-expires').textContent = t('resetLinkExpires', { date: when(info.expires_at) });
  byId('reset-fields').hidden = false;
  password.focus();
}

function check(value) {
  if (!value) return 'passwordRequired';
  if (value.length < MIN_PASSWORD) return 'passwordTooShort';
  if (value.length > MAX_PASSWORD) return 'passwordTooLong';
  return null;
}

function setBusy(on) {
  busy = on;
  submit.disabled = on;
  submit.setAttribute('aria-busy', String(on));
  submit.textContent = t(on ? 'resetSaving' : 'resetButton');
}

async function load() {
  let response;
  try {
    response = await fetch(endpoint, { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
  } catch {
    byId('reset-intro').hidden = true;
    showNotice(t('serverUnreachable'));
    return;
  }
  if (response.status === 404) {
    showDead();
    return;
  }
  if (!response.ok) {
    byId('reset-intro').hidden = true;
    showNotice(t('serverTrouble', { status: response.status }));
    return;
  }
  showForm(await response.json());
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  if (busy || form.dataset.state !== 'ready') return;
  showNotice(null);
  const value = password.value;
  const problem = check(value);
  setFieldError(problem);
  if (problem) {
    password.focus();
    return;
  }
  setBusy(true);
  try {
    const response = await fetch(endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ password: value }),
      credentials: 'same-origin',
    });
    if (response.ok) {
      location.assign('/chats');
      return; // the button stays busy until the chats are there
    }
    const body = await response.json().catch(() => ({}));
    setBusy(false);
    if (response.status === 404) {
      showDead();
    } else if (body.error === 'bad_password') {
      setFieldError(value.length < MIN_PASSWORD ? 'passwordTooShort' : 'passwordTooLong');
      password.focus();
    } else if (response.status === 429) {
      showNotice(t('tooManyTries'));
    } else {
      showNotice(t('serverTrouble', { status: response.status }));
    }
  } catch {
    setBusy(false);
    showNotice(t('serverUnreachable'));
  }
});

byId('reset-show-password').addEventListener('change', (event) => {
  password.type = event.target.checked ? 'text' : 'password';
});

password.addEventListener('input', () => {
  if (password.getAttribute('aria-invalid') === 'true') setFieldError(null);
});

applyStrings(document);
document.title = `${t('resetTitle')} — ${t('appName')}`;
load();
