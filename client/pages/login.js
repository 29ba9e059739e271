// The log-in and sign-up page: POST /api/auth/login or /api/auth/signup (the server
// sets the session cookie), then on to where the user was going (?next=, a path of this
// site). ?signup=1 opens "Create an account"; ?bye=1 says the user has logged out.

import { t } from '../shared/strings.js';
import { applyStrings, byId } from '../shared/ui.js';

const LOGIN_RE = /^[a-z0-9][a-z0-9._-]{2,63}$/;
const MIN_PASSWORD = 8;
const MAX_PASSWORD = 256;
const MAX_DISPLAY_NAME = 128;

const params = new URLSearchParams(location.search);
const form = byId('login-form');
const notice = byId('login-notice');
const submit = byId('login-submit');
const inputs = {
  login: byId('login-login'),
  display_name: byId('login-display-name'),
  password: byId('login-password'),
};
const errors = {
  login: byId('login-login-error'),
  display_name: byId('login-name-error'),
  password: byId('login-password-error'),
};
let signingUp = false;
let busy = false;

/** Where to go after logging in: only a path of this site, never an open redirect. */
function next() {
  const target = params.get('next') || '/';
  return target.startsWith('/') && !target.startsWith('//') && !target.startsWith('/\\')
    ? target
    : '/';
}

/** The call the user was on the way to, for the intro line ("… to join the call X"). */
function callOfNext() {
  const match = /^\/call\/([A-Za-z0-9_-]{1,64})(?:[/?#]|$)/.exec(next());
  return match ? match[1] : null;
}

function showNotice(text, kind = 'error') {
  notice.textContent = text ?? '';
  notice.hidden = !text;
  notice.classList.toggle('notice-error', kind === 'error');
  notice.classList.toggle('notice-info', kind === 'info');
}

function setFieldError(name, key, vars) {
  errors[name].textContent = key ? t(key, vars) : '';
  inputs[name].setAttribute('aria-invalid', String(!!key));
}

function clearErrors() {
  for (const name of Object.keys(inputs)) setFieldError(name, null);
  showNotice(null);
}

function show(mode) {
  signingUp = mode;
  form.dataset.mode = signingUp ? 'signup' : 'login';
  const call = callOfNext();
  const title = t(signingUp ? 'signupTitle' : 'loginTitle');
  byId('login-title').textContent = title;
  document.title = `${title} — ${t('appName')}`;
  const intro = signingUp ? (call ? 'signupIntroCall' : 'signupIntro') : call ? 'loginIntroCall' : 'loginIntro';
  byId('login-intro').textContent = t(intro, { call });
  for (const node of form.querySelectorAll('.signup-only')) node.hidden = !signingUp;
  for (const node of form.querySelectorAll('.login-only')) node.hidden = signingUp;
  inputs.display_name.required = signingUp;
  submit.textContent = t(signingUp ? 'signupButton' : 'loginButton');
  byId('switch-text').textContent = t(signingUp ? 'haveAccount' : 'newHere');
  byId('login-switch').textContent = t(signingUp ? 'logInInstead' : 'createAccount');
  // a password manager offers a new strong password when signing up, the saved one otherwise
  inputs.password.autocomplete = signingUp ? 'new-password' : 'current-password';
  clearErrors();
}

/** What is wrong with the form before asking the server: [field, string key] or null. */
function check(data) {
  if (!data.login) return ['login', 'loginRequired'];
  if (/\s/.test(data.login)) return ['login', 'loginRulesSpaces'];
  if (signingUp && !LOGIN_RE.test(data.login)) return ['login', 'loginInvalid'];
  if (signingUp && !data.display_name) return ['display_name', 'displayNameRequired'];
  if (signingUp && [...data.display_name].length > MAX_DISPLAY_NAME) {
    return ['display_name', 'displayNameTooLong'];
  }
  if (!data.password) return ['password', 'passwordRequired'];
  if (signingUp && data.password.length < MIN_PASSWORD) return ['password', 'passwordTooShort'];
  if (data.password.length > MAX_PASSWORD) return ['password', 'passwordTooLong'];
  return null;
}

/** The server's refusal in plain words, and the field it is about. */
function explain(status, body, data) {
  switch (body.error) {
    case 'bad_credentials':
      return ['password', t('badCredentials')];
    case 'login_taken':
      return ['login', t('loginTaken', { login: data.login })];
    case 'bad_login':
      return ['login', t('loginInvalid')];
    case 'bad_password':
      return ['password', t(data.password.length < MIN_PASSWORD ? 'passwordTooShort' : 'passwordTooLong')];
    case 'bad_field':
      return ['display_name', t('displayNameRequired')];
    default:
      break;
  }
  if (status === 429) return [null, t('tooManyTries')];
  if (status >= 500) return [null, t('serverTrouble', { status })];
  return [null, body.message || t('serverTrouble', { status })];
}

function refuse(field, text) {
  showNotice(text);
  if (field) {
    inputs[field].setAttribute('aria-invalid', 'true');
    inputs[field].focus();
    if (field === 'password') inputs.password.select();
  }
}

function setBusy(on) {
  busy = on;
  submit.disabled = on;
  submit.setAttribute('aria-busy', String(on));
  submit.textContent = on
    ? t(signingUp ? 'signingUp' : 'loggingIn')
    : t(signingUp ? 'signupButton' : 'loginButton');
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  if (busy) return;
  clearErrors();
  const data = {
    login: inputs.login.value.trim().toLowerCase(),
    password: inputs.password.value,
  };
  if (signingUp) data.display_name = inputs.display_name.value.trim();
  const problem = check(data);
  if (problem) {
    setFieldError(...problem);
    inputs[problem[0]].focus();
    return;
  }
  setBusy(true);
  try {
    const response = await fetch(signingUp ? '/api/auth/signup' : '/api/auth/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(data),
      credentials: 'same-origin',
    });
    if (response.ok) {
      location.assign(next());
      return; // the button stays busy until the next page is there
    }
    const body = await response.json().catch(() => ({}));
    setBusy(false);
    refuse(...explain(response.status, body, data));
  } catch {
    setBusy(false);
    refuse(null, t('serverUnreachable'));
  }
});

byId('login-switch').addEventListener('click', () => {
  show(!signingUp);
  (inputs.login.value ? (signingUp ? inputs.display_name : inputs.password) : inputs.login).focus();
});

byId('login-show-password').addEventListener('change', (event) => {
  inputs.password.type = event.target.checked ? 'text' : 'password';
});

for (const [name, input] of Object.entries(inputs)) {
  input.addEventListener('input', () => {
    if (input.getAttribute('aria-invalid') === 'true') setFieldError(name, null);
  });
}

applyStrings(document);
show(params.get('signup') === '1');
if (params.get('bye') === '1') showNotice(t('loggedOut'), 'info');
else if (params.has('next') && params.get('expired') === '1') showNotice(t('sessionExpired'), 'info');
inputs.login.focus();
