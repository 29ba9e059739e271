// parta web client: routes between the home, pre-join, call and "you left" screens, and
// exposes `window.parta` for tests. Plain ES modules, no build step.
//
//   /                 home: your name and a call name, "Join call"; schedule a lesson,
//                     upcoming lessons and past calls (schedule.js)
//   /call/{id}        the call; asks for the name first when it is not known
//   /call/{id}?name=  join under that name (tests, links made by other tools)
//   /call/{id}?link=  join with an invite link's token (where /join/{token} leads)
//   /call/{id}?host=  a scheduled lesson's organiser: the host key makes them its host

import { t } from '../shared/strings.js';
import { CallSession, saveHostToken, saveLink } from './session.js';
import { CallView } from './view.js';
import { icon } from '../shared/icons.js';
import { showScheduling } from './schedule.js';
import { applyStrings, byId, copyText, hueOf, initials, showScreen, toasts } from '../shared/ui.js';

const CALL_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
const NAME_KEY = 'parta.name';
const MAX_NAME = 64;
const ID_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789'; // no 0/o, 1/l/i look-alikes

const app = {
  screen: 'home',
  call: null,
  session: null,
  view: null,
  link: null, // the invite link's token from the address (kept when storage is blocked)
  hostKey: null, // a host key from the address
  me: null, // GET /api/me once it has answered: {user, profiles, admin_of}
};

// ---- small pure helpers -----------------------------------------------------------

function randomCallId() {
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  return `lesson-${[...bytes].map((b) => ID_ALPHABET[b % ID_ALPHABET.length]).join('')}`;
}

/** A typed call name as an id: spaces become dashes; other characters are refused. */
function callIdFrom(text) {
  return text.trim().replace(/\s+/g, '-');
}

function checkName(name) {
  if (!name) return 'nameRequired';
  if ([...name].length > MAX_NAME) return 'nameTooLong';
  return null;
}

function checkCallId(id) {
  if (!id) return 'callRequired';
  return CALL_ID_RE.test(id) ? null : 'badCallName';
}

/** The invite link to share: a host's current one in the call, else the one we came with. */
function inviteUrl() {
  if (app.session && app.screen === 'call') return app.session.inviteUrl();
  return app.link ? `${location.origin}/join/${encodeURIComponent(app.link)}` : null;
}

function loadName() {
  try {
    return localStorage.getItem(NAME_KEY) ?? '';
  } catch {
    return '';
  }
}

function saveName(name) {
  try {
    localStorage.setItem(NAME_KEY, name);
    return true;
  } catch {
    return false; // storage blocked: the name travels in ?name= instead
  }
}

function parseRoute(pathname) {
  const match = /^\/call\/([^/]+)\/?$/.exec(pathname);
  if (!match) return { kind: 'home' };
  let call;
  try {
    call = decodeURIComponent(match[1]);
  } catch {
    call = '';
  }
  return { kind: 'call', call };
}

function setFieldError(input, errorNode, key) {
  errorNode.textContent = key ? t(key) : '';
  input.setAttribute('aria-invalid', String(!!key));
}

// ---- who is logged in -------------------------------------------------------------

/** Back to the log-in page, coming back here afterwards. */
function toLogin(query = '') {
  const here = `${location.pathname}${location.search}`;
  location.assign(`/login?next=${encodeURIComponent(here)}${query}`);
}

/** GET /api/me: who is logged in (the page itself needs a session, so there is one,
 * unless it expired since). Null when the server cannot be reached. */
const mePromise = fetch('/api/me', { credentials: 'same-origin', headers: { Accept: 'application/json' } })
  .then(async (response) => {
    if (response.status === 401) {
      toLogin('&expired=1');
      return null;
    }
    return response.ok ? response.json() : null;
  })
  .catch(() => null)
  .then((me) => {
    app.me = me;
    return me;
  });

function showAccount(me) {
  const user = me?.user;
  byId('account-bar').hidden = !user;
  if (!user) return;
  byId('current-user').textContent = user.display_name;
  byId('current-login').textContent = user.login;
  const avatar = byId('account-avatar');
  avatar.textContent = initials(user.display_name);
  avatar.style.setProperty('--hue', String(hueOf(user.display_name)));
}

/** A name field left empty gets the account's name (never overwrites what was typed). */
function offerAccountName(input) {
  mePromise.then((me) => {
    const name = me?.user?.display_name ?? '';
    if (name && !input.value && !checkName(name)) input.value = name;
  });
}

async function logOut() {
  const button = byId('btn-logout');
  button.disabled = true;
  try {
    const response = await fetch('/api/auth/logout', { method: 'POST', credentials: 'same-origin' });
    if (!response.ok && response.status !== 401) throw new Error(`HTTP ${response.status}`);
  } catch (error) {
    button.disabled = false;
    toasts.show({ kind: 'error', text: t('logOutFailed', { message: error.message || t('networkError') }) });
    return;
  }
  // a shared school computer: the next person must not join under this name
  try {
    localStorage.removeItem(NAME_KEY);
  } catch {
    // storage blocked: nothing was kept
  }
  location.assign('/login?bye=1');
}

// ---- screens ---------------------------------------------------------------------

function showHome({ notice = null, call = null } = {}) {
  app.screen = 'home';
  document.title = t('appName');
  showScreen('screen-home');
  const nameInput = byId('home-name');
  const callInput = byId('home-call');
  nameInput.value = loadName();
  offerAccountName(nameInput);
  callInput.value = call || randomCallId();
  mePromise.then(showAccount);
  const noticeNode = byId('home-notice');
  noticeNode.hidden = !notice;
  noticeNode.textContent = notice ?? '';
  showScheduling();
  (nameInput.value ? callInput : nameInput).focus();
}

function wireHome() {
  byId('home-call').addEventListener('input', () => {
    setFieldError(byId('home-call'), byId('home-call-error'), null);
  });
  byId('home-name').addEventListener('input', () => {
    setFieldError(byId('home-name'), byId('home-name-error'), null);
  });
  byId('btn-logout').addEventListener('click', logOut);
  byId('home-shuffle').addEventListener('click', () => {
    byId('home-call').value = randomCallId();
    setFieldError(byId('home-call'), byId('home-call-error'), null);
  });
  byId('home-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const name = byId('home-name').value.trim();
    const call = callIdFrom(byId('home-call').value);
    const nameError = checkName(name);
    const callError = checkCallId(call);
    setFieldError(byId('home-name'), byId('home-name-error'), nameError);
    setFieldError(byId('home-call'), byId('home-call-error'), callError);
    if (nameError || callError) {
      byId(nameError ? 'home-name' : 'home-call').focus();
      return;
    }
    const query = saveName(name) ? '' : `?name=${encodeURIComponent(name)}`;
    location.assign(`/call/${encodeURIComponent(call)}${query}`);
  });
}

function showPrejoin(call) {
  app.screen = 'prejoin';
  app.call = call;
  document.title = `${call} — ${t('appName')}`;
  byId('prejoin-title').textContent = t('joinCallTitle', { call });
  // Only an invite link lets the others in: without one there is nothing to share here.
  const url = inviteUrl();
  for (const node of document.querySelectorAll('.call-link-text')) node.value = url ?? '';
  byId('prejoin-link-box').hidden = !url;
  showScreen('screen-prejoin');
  const input = byId('prejoin-name');
  input.value = '';
  offerAccountName(input);
  input.focus();
}

function wirePrejoin() {
  byId('prejoin-name').addEventListener('input', () => {
    setFieldError(byId('prejoin-name'), byId('prejoin-name-error'), null);
  });
  byId('prejoin-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const name = byId('prejoin-name').value.trim();
    const error = checkName(name);
    setFieldError(byId('prejoin-name'), byId('prejoin-name-error'), error);
    if (error) {
      byId('prejoin-name').focus();
      return;
    }
    saveName(name);
    startCall(app.call, name, { link: app.link, hostToken: app.hostKey });
  });
}

/** The schools we belong to, [{id, name}] (from GET /api/me); null while unknown. */
function mySchools() {
  if (!app.me) return null;
  const seen = new Map();
  for (const profile of app.me.profiles ?? []) {
    const id = profile?.org_id;
    if (id && !seen.has(id)) seen.set(id, { id, name: profile.org?.name ?? '' });
  }
  return [...seen.values()];
}

function startCall(call, name, tokens = {}) {
  app.screen = 'call';
  app.call = call;
  app.view ??= new CallView({ onLeft: showLeft, onOver: showOver, schools: mySchools });
  const session = new CallSession(call, name, app.view, tokens);
  app.session = session;
  app.view.attach(session);
  session.start();
}

function showLeft(session) {
  app.screen = 'left';
  byId('left-body').textContent = t('leftBody', { call: session.call });
  document.title = `${t('leftTitle')} — ${t('appName')}`;
  showScreen('screen-left');
  const rejoin = byId('btn-rejoin');
  rejoin.onclick = () => startCall(session.call, session.name, sessionTokens(session));
  rejoin.focus();
}

function sessionTokens(session) {
  return { link: session.link, hostToken: session.hostToken };
}

/** Removed, the call ended, not let in, or no valid invite link: say why; no automatic way back in. */
function showOver(session, reason) {
  app.screen = reason;
  const call = session.call;
  const [titleKey, bodyKey, iconName] = {
    removed: ['removedTitle', 'removedBody', 'logOut'],
    ended: session.endedByMe
      ? ['endedByYouTitle', 'endedByYouBody', 'power']
      : ['endedTitle', 'endedBody', 'power'],
    denied: ['deniedTitle', 'deniedBody', 'lock'],
    'bad-link': session.hadLink
      ? ['badLinkTitle', 'badLinkBody', 'link']
      : ['noLinkTitle', 'noLinkBody', 'link'],
  }[reason] ?? ['endedTitle', 'endedBody', 'power'];
  const screen = byId('screen-over');
  screen.setAttribute('data-testid', `${reason}-screen`);
  screen.dataset.reason = reason;
  byId('over-icon').innerHTML = icon(iconName);
  byId('over-title').textContent = t(titleKey);
  byId('over-body').textContent = t(bodyKey, { call });
  document.title = `${t(titleKey)} — ${t('appName')}`;
  showScreen('screen-over');
  const again = byId('btn-ask-again');
  again.hidden = reason !== 'denied';
  again.onclick = () => startCall(call, session.name, sessionTokens(session));
  (again.hidden ? screen.querySelector('a.btn') : again).focus();
}

function wireCopyLinks() {
  // Every "Copy link" button copies the call's invite link (never with ?name=): the plain
  // /call/ address lets nobody in once the call exists.
  document.addEventListener('click', async (event) => {
    const button = event.target.closest('.copy-link');
    const url = button && app.call ? inviteUrl() : null;
    if (!url) return;
    const ok = await copyText(url);
    if (!ok) {
      // Select the link on the page, so that Ctrl+C (or the phone's menu) copies it.
      const box = button.closest('.link-box, .invite-section')?.querySelector('input');
      box?.focus();
      box?.select();
    }
    toasts.show({ kind: ok ? 'success' : 'warning', text: t(ok ? 'linkCopied' : 'copyFailed'), timeout: 4000 });
  });
  for (const node of document.querySelectorAll('.call-link-text')) {
    node.addEventListener('focus', () => node.select());
  }
}

// ---- start -----------------------------------------------------------------------

function boot() {
  applyStrings(document);
  wireHome();
  wirePrejoin();
  wireCopyLinks();
  window.addEventListener('pagehide', () => app.session?.leaveOnUnload());
  window.addEventListener('online', () => app.session?.onOnline());

  const route = parseRoute(location.pathname);
  if (route.kind !== 'call') {
    showHome();
    return;
  }
  if (!CALL_ID_RE.test(route.call)) {
    showHome({ notice: t('badCallLink') });
    return;
  }
  const params = new URLSearchParams(location.search);
  takeTokens(route.call, params);
  const queryName = (params.get('name') ?? '').trim();
  let name = loadName().trim();
  if (queryName && !checkName(queryName)) {
    name = queryName;
    // Keep the name, and take it out of the address bar so that a copied URL does not
    // make everyone join under this name.
    if (saveName(queryName)) {
      params.delete('name');
      const rest = params.toString();
      history.replaceState(null, '', `${location.pathname}${rest ? `?${rest}` : ''}`);
    }
  }
  app.call = route.call;
  if (name && !checkName(name)) startCall(route.call, name, { link: app.link, hostToken: app.hostKey });
  else showPrejoin(route.call);
}

/**
 * `?link=` (an invite link's token) and `?host=` (an organiser's host key): kept for this
 * call (in memory and in localStorage, so a reload works) and taken out of the address
 * bar, so that a copied address never hands the host key on.
 */
function takeTokens(call, params) {
  const link = (params.get('link') ?? '').trim();
  const host = (params.get('host') ?? '').trim();
  if (!link && !host) return;
  if (link) {
    app.link = link;
    if (saveLink(call, link)) params.delete('link');
  }
  if (host) {
    app.hostKey = host;
    saveHostToken(call, host);
    params.delete('host'); // even when storage is blocked: the key must not be shared
  }
  const rest = params.toString();
  history.replaceState(null, '', `${location.pathname}${rest ? `?${rest}` : ''}`);
}

/** For tests (and the curious): read-only views of the call. */
window.parta = Object.freeze({
  state() {
    if (!app.session || app.screen !== 'call') {
      return {
        screen: app.screen,
        call: app.call,
        peerId: null,
        peers: [],
        activeSpeaker: null,
        connected: false,
        role: null,
        inviteLink: null,
        waiting: false,
        waitingRoom: false,
        waitingList: [],
        locked: [],
        recording: false,
        recordingBy: null,
        recordingBusy: false,
        broadcasting: false,
        broadcastPublic: false,
        broadcastBy: null,
        watchLink: null,
        broadcastViewers: { webrtc: 0, hls: 0 },
        broadcastBusy: null,
      };
    }
    const snapshot = app.session.snapshot();
    return { screen: snapshot.waiting ? 'waiting' : 'call', ...snapshot };
  },
  /** The invite link (full URL) a host can share; null for participants or when off. */
  inviteLink() {
    return app.session && app.screen === 'call' ? app.session.inviteUrl() : null;
  },
  async stats() {
    if (!app.session || app.screen !== 'call') {
      return {
        framesDecoded: 0,
        totalSamplesReceived: 0,
        bytesReceived: { audio: 0, video: 0 },
        bytesSent: 0,
        inbound: [],
        outbound: [],
      };
    }
    return app.session.stats();
  },
});

boot();
