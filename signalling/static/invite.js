// A chat's invite landing page: shows what the invite leads to and walks the visitor
// through the steps that remain (log in, create a school profile, join).
const code = decodeURIComponent(location.pathname.split('/').pop() || '');
const $ = (id) => document.getElementById(id);

function notify(text) {
  $('invite-notice').textContent = text;
  $('invite-notice').hidden = !text;
}

async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: body ? { 'Content-Type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await response.json().catch(() => ({}));
  return { ok: response.ok, status: response.status, data };
}

async function refresh() {
  const { ok, data } = await api('GET', `/api/invites/${encodeURIComponent(code)}`);
  if (!ok) {
    $('invite-title').textContent = 'This invite link does not work any more';
    notify(data.message || 'Ask for a new invite link.');
    return;
  }
  $('invite-title').textContent = data.chat.title;
  $('invite-school').textContent = data.organisation.name;
  const steps = $('invite-steps');
  steps.replaceChildren(...data.steps.map((s) => {
    const item = document.createElement('li');
    item.textContent = s.text;
    item.dataset.step = s.step;
    return item;
  }));
  $('btn-login').hidden = data.logged_in;
  $('profile-form').hidden = !data.logged_in || data.has_profile;
  $('btn-join').hidden = !data.logged_in || !data.has_profile || data.member;
  if (data.member) location.assign(`/chats?chat=${encodeURIComponent(data.chat.id)}`);
}

$('btn-login').addEventListener('click', () => {
  location.assign(`/login?next=${encodeURIComponent(location.pathname)}`);
});

$('profile-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const body = Object.fromEntries(new FormData(event.target));
  if (!body.class_name) delete body.class_name;
  const { ok, data } = await api('POST', '/api/profiles', body);
  if (!ok) return notify(data.message || 'The profile could not be created.');
  notify('');
  return refresh();
});

$('btn-join').addEventListener('click', async () => {
  const { ok, data } = await api('POST', `/api/invites/${encodeURIComponent(code)}/join`);
  if (!ok) return notify(data.message || 'Joining failed.');
  location.assign(`/chats?chat=${encodeURIComponent(data.id)}`);
});

refresh();
