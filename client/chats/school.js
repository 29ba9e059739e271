// Schools: join one with a code, create one (and share its codes), a school's page
// (people by role, open chats and channels to join, upcoming lessons), and the settings
// (browser notifications, a teacher's working hours).

import { t } from '../shared/strings.js';
import { icon } from '../shared/icons.js';
import { byId, copyText, el, hueOf, initials, toasts } from '../shared/ui.js';
import { api, hooks, longWhen, roleName, state } from './api.js';

const enc = encodeURIComponent;
let uid = 0;

function field(label, input, hint = null) {
  const id = input.id || `f-${++uid}`;
  input.id = id;
  return el('div', { class: 'field' }, [
    el('label', { for: id, text: label }),
    input,
    hint ? el('p', { class: 'field-hint', text: hint }) : null,
  ]);
}

function formError(testid) {
  return el('p', { class: 'form-error', role: 'alert', 'data-testid': testid, hidden: true });
}

function showError(node, text) {
  node.textContent = text;
  node.hidden = !text;
}

// ---- join a school with a code, create a school -----------------------------------------

export function joinSchoolForm({ code = '', onDone = null } = {}) {
  const codeInput = el('input', { type: 'text', required: true, autocomplete: 'off', spellcheck: 'false', value: code, 'data-testid': 'input-school-code' });
  const name = el('input', { type: 'text', required: true, maxlength: 128, autocomplete: 'name', 'data-testid': 'input-full-name' });
  if (state.me?.user?.display_name) name.value = state.me.user.display_name;
  const klass = el('input', { type: 'text', maxlength: 32, autocomplete: 'off', placeholder: t('classNamePlaceholder'), 'data-testid': 'input-class' });
  const error = formError('join-school-error');
  const submit = el('button', { type: 'submit', class: 'btn btn-primary btn-wide', text: t('joinSchool'), 'data-testid': 'btn-join-school' });
  return el('form', {
    class: 'card school-form', novalidate: true, 'data-testid': 'join-school-form',
    onsubmit: async (event) => {
      event.preventDefault();
      showError(error, '');
      const body = { code: codeInput.value.trim(), full_name: name.value.trim() };
      if (klass.value.trim()) body.class_name = klass.value.trim();
      if (!body.code) return codeInput.focus();
      if (!body.full_name) return name.focus();
      submit.disabled = true;
      try {
        const profile = await api('POST', '/api/profiles', body);
        toasts.show({ kind: 'success', text: t('joinedSchool', { school: profile.org.name, role: roleName(profile.role) }) });
        await hooks.loadMe();
        hooks.closeDialog();
        await hooks.refreshList(0);
        if (onDone) onDone(profile);
        else hooks.navigate(`/school/${enc(profile.org.id)}`);
      } catch (failure) {
        showError(error, t('joinSchoolFailed', { message: failure.message }));
      } finally {
        submit.disabled = false;
      }
      return null;
    },
  }, [
    el('h3', { class: 'card-title', text: t('joinSchoolTitle') }),
    el('p', { class: 'field-hint', text: t('joinSchoolIntro') }),
    field(t('schoolCode'), codeInput),
    field(t('fullName'), name, t('fullNameHint')),
    field(t('className'), klass),
    error,
    submit,
  ]);
}

export function createSchoolForm() {
  const name = el('input', { type: 'text', required: true, maxlength: 128, placeholder: t('schoolNamePlaceholder'), 'data-testid': 'input-school-name' });
  const error = formError('create-school-error');
  const submit = el('button', { type: 'submit', class: 'btn btn-secondary btn-wide', text: t('createSchool'), 'data-testid': 'btn-create-school' });
  return el('form', {
    class: 'card school-form', novalidate: true, 'data-testid': 'create-school-form',
    onsubmit: async (event) => {
      event.preventDefault();
      showError(error, '');
      if (!name.value.trim()) return name.focus();
      submit.disabled = true;
      try {
        const made = await api('POST', '/api/orgs', { name: name.value.trim() });
        toasts.show({ kind: 'success', text: t('schoolCreated', { name: made.name }) });
        await hooks.loadMe();
        hooks.closeDialog();
        hooks.navigate(`/school/${enc(made.id)}`);
      } catch (failure) {
        showError(error, t('createSchoolFailed', { message: failure.message }));
      } finally {
        submit.disabled = false;
      }
      return null;
    },
  }, [
    el('h3', { class: 'card-title', text: t('createSchoolTitle') }),
    el('p', { class: 'field-hint', text: t('createSchoolIntro') }),
    field(t('schoolName'), name),
    error,
    submit,
  ]);
}

export function showWelcome() {
  hooks.showPane('pane-welcome');
  hooks.setView('main');
  byId('welcome-forms').replaceChildren(joinSchoolForm(), createSchoolForm());
}

export function openSchoolsDialog() {
  const mine = new Map();
  for (const p of state.me?.profiles ?? []) mine.set(p.org.id, t('asRole', { school: p.org.name, role: roleName(p.role) }));
  for (const o of state.me?.admin_of ?? []) if (!mine.has(o.id)) mine.set(o.id, t('asRole', { school: o.name, role: t('adminMark') }));
  const list = el('ul', { class: 'school-list' }, [...mine].map(([id, label]) => el('li', {}, [
    el('a', {
      href: `/school/${enc(id)}`, class: 'school-link', 'data-testid': 'dialog-school-link', html: icon('school'),
      onclick: (event) => {
        event.preventDefault();
        hooks.closeDialog();
        hooks.navigate(`/school/${enc(id)}`);
      },
    }, [el('span', { class: 'school-link-name', text: label })]),
  ])));
  const body = el('div', { class: 'dialog-stack schools-dialog' }, [
    mine.size ? el('h3', { class: 'section-title', text: t('yourSchools') }) : null,
    mine.size ? list : null,
    joinSchoolForm(),
    createSchoolForm(),
  ]);
  hooks.openDialog(t('schoolsTitle'), body, 'schools-dialog');
}

// ---- a school's page ------------------------------------------------------------------------

/** An admin makes a member's one-time reset link and sees it, to hand over. */
async function makeResetLink(orgId, person, button) {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  let made;
  try {
    made = await api('POST', `/api/orgs/${enc(orgId)}/members/${enc(person.id)}/password-reset`);
  } catch (failure) {
    toasts.show({ kind: 'error', text: t('resetLinkFailed', { message: failure.message }) });
    return;
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
  const name = made.for || person.full_name;
  const date = longWhen(made.expires_at);
  const link = el('input', {
    type: 'text', readonly: true, class: 'invite-link-box', value: made.link,
    'aria-label': t('resetLinkLabel', { name }), 'data-testid': 'reset-link',
    onfocus: (event) => event.target.select(),
  });
  const copy = el('button', {
    type: 'button', class: 'btn btn-primary btn-small', 'data-testid': 'btn-copy-reset-link',
    html: `${icon('copy')}<span>${t('copyLink')}</span>`,
    onclick: async () => {
      const ok = await copyText(made.link);
      toasts.show({ kind: ok ? 'success' : 'error', text: ok ? t('linkCopied') : t('copyFailed'), timeout: 3000 });
    },
  });
  const body = el('div', { class: 'dialog-stack reset-link', 'data-testid': 'reset-link-box' }, [
    el('div', { class: 'member reset-link-who' }, [
      el('span', { class: 'avatar small', text: initials(name), style: `--hue: ${hueOf(name)}`, 'aria-hidden': 'true' }),
      el('span', { class: 'member-text' }, [
        el('span', { class: 'member-name', text: name, 'data-testid': 'reset-link-for' }),
        person.class_name ? el('span', { class: 'member-role', text: person.class_name }) : null,
      ]),
    ]),
    link,
    el('div', { class: 'info-buttons' }, [copy]),
    el('p', { class: 'notice notice-info', 'data-testid': 'reset-link-note', text: t('resetLinkNote', { name, date }) }),
  ]);
  hooks.openDialog(t('resetLinkTitle'), body, 'reset-link-dialog');
  copy.focus();
}

function personRow(p, orgId = null) {
  const reset = orgId ? el('button', {
    type: 'button', class: 'btn btn-secondary btn-small member-action', 'data-testid': 'btn-reset-password',
    html: `${icon('lock')}<span>${t('resetPassword')}</span>`, 'aria-label': t('resetPasswordFor', { name: p.full_name }),
    'aria-haspopup': 'dialog',
    onclick: (event) => makeResetLink(orgId, p, event.currentTarget),
  }) : null;
  return el('li', { class: 'member', 'data-testid': 'school-person' }, [
    el('span', { class: 'avatar small', text: initials(p.full_name), style: `--hue: ${hueOf(p.full_name)}`, 'aria-hidden': 'true' }),
    el('span', { class: 'member-text' }, [
      el('span', { class: 'member-name', text: p.full_name }),
      p.class_name ? el('span', { class: 'member-role', text: p.class_name }) : null,
    ]),
    reset,
  ]);
}

function chatRow(c) {
  const open = () => hooks.navigate(`/chats?chat=${enc(c.id)}`);
  const button = c.member
    ? el('button', { type: 'button', class: 'btn btn-secondary btn-small', text: t('openChat'), 'aria-label': t('openChatNamed', { title: c.title }), 'data-testid': 'btn-open-public', onclick: open })
    : el('button', {
      type: 'button', class: 'btn btn-primary btn-small', text: t('joinChat'), 'aria-label': t('joinChatNamed', { title: c.title }), 'data-testid': 'btn-join-public',
      onclick: async () => {
        try {
          await api('POST', `/api/chats/${enc(c.id)}/join`);
        } catch (error) {
          toasts.show({ kind: 'error', text: error.message });
          return;
        }
        toasts.show({ kind: 'success', text: t('joinedChat', { title: c.title }), timeout: 3000 });
        await hooks.refreshList(0);
        open();
      },
    });
  return el('li', { class: 'school-chat', 'data-testid': 'school-chat' }, [
    el('span', { class: 'avatar small', text: initials(c.title), style: `--hue: ${hueOf(c.title)}`, 'aria-hidden': 'true' }),
    el('span', { class: 'school-chat-title', text: c.title }),
    button,
  ]);
}

function card(title, children, testid) {
  return el('section', { class: 'card school-card', 'data-testid': testid }, [el('h3', { class: 'card-title', text: title }), ...children]);
}

async function codesCard(orgId, hasProfile) {
  let codes;
  try {
    codes = (await api('GET', `/api/orgs/${enc(orgId)}/codes`)).invite_codes;
  } catch {
    return null;
  }
  const rows = ['teacher', 'student', 'parent'].map((role) => el('li', { class: 'code-row', 'data-testid': `code-${role}` }, [
    el('span', { class: 'code-role', text: roleName(role) }),
    el('code', { class: 'code-value', 'data-testid': 'code-value', text: codes[role] }),
    el('button', {
      type: 'button', class: 'btn btn-secondary btn-small', html: `${icon('copy')}<span>${t('copyCode')}</span>`,
      'aria-label': t('copyCodeFor', { role: roleName(role) }),
      onclick: async () => {
        const ok = await copyText(codes[role]);
        toasts.show({ kind: ok ? 'success' : 'error', text: ok ? t('codeCopied') : t('copyFailed'), timeout: 3000 });
      },
    }),
  ]));
  const children = [el('p', { class: 'field-hint', text: t('codesHint') }), el('ul', { class: 'code-list' }, rows)];
  if (!hasProfile) {
    children.push(el('p', { class: 'notice notice-info', text: t('joinOwnSchool') }), joinSchoolForm({
      code: codes.teacher,
      onDone: () => showSchool(orgId),
    }));
  }
  return card(t('codesTitle'), children, 'school-codes');
}

export async function showSchool(orgId) {
  hooks.showPane('pane-school');
  const pane = byId('pane-school');
  pane.dataset.loaded = 'false';
  let page;
  try {
    page = await api('GET', `/api/orgs/${enc(orgId)}`);
  } catch (error) {
    pane.replaceChildren(el('div', { class: 'school-page' }, [el('p', { class: 'notice', text: `${t('schoolFailed')} ${error.message}` })]));
    return;
  }
  document.title = `${page.name} - parta`;
  const hasProfile = (state.me?.profiles ?? []).some((p) => p.org.id === orgId);
  const mine = new Set((state.me?.profiles ?? []).map((p) => p.id));
  const counts = [['teacher', 'countTeachers'], ['student', 'countStudents'], ['parent', 'countParents']];
  const head = el('header', { class: 'school-head' }, [
    el('button', {
      type: 'button', class: 'btn btn-icon only-phone', html: icon('back'), 'aria-label': t('backToList'), title: t('backToList'),
      'data-testid': 'btn-school-back', onclick: () => hooks.navigate('/chats'),
    }),
    el('span', { class: 'avatar school-avatar', text: initials(page.name), style: `--hue: ${hueOf(page.name)}`, 'aria-hidden': 'true' }),
    el('div', {}, [
      el('h2', { class: 'school-name', text: page.name, 'data-testid': 'school-name' }),
      page.admin ? el('span', { class: 'tag', text: t('adminMark') }) : null,
    ]),
  ]);
  const stats = el('ul', { class: 'school-stats', 'data-testid': 'school-counts' }, counts.map(([role, key]) => el('li', { class: 'stat', 'data-testid': `count-${role}` }, [
    el('strong', { class: 'stat-number', text: String(page.counts[role] ?? 0) }),
    el('span', { class: 'stat-label', text: t(key) }),
  ])));
  const people = card(t('schoolPeople'), counts.map(([role, key]) => el('div', { class: 'people-group' }, [
    el('h4', { class: 'section-title', text: `${t(key)} (${page.people[role]?.length ?? 0})` }),
    (page.people[role] ?? []).length
      ? el('ul', { class: 'people-list', 'data-testid': `people-${role}` }, page.people[role].map(
        // an admin makes reset links for the others (their own password: "Change password")
        (p) => personRow(p, page.admin && !mine.has(p.id) ? orgId : null),
      ))
      : el('p', { class: 'field-hint', text: t('nobody') }),
  ])), 'school-people');
  const chats = card(t('schoolChats'), [page.chats.length
    ? el('ul', { class: 'school-chats', 'data-testid': 'school-chats' }, page.chats.map(chatRow))
    : el('p', { class: 'field-hint', text: t('noPublicChats') })], 'school-public-chats');
  const channels = card(t('schoolChannels'), [page.channels.length
    ? el('ul', { class: 'school-chats', 'data-testid': 'school-channels' }, page.channels.map(chatRow))
    : el('p', { class: 'field-hint', text: t('noChannels') })], 'school-public-channels');
  const lessons = card(t('schoolLessons'), [page.events.length
    ? el('ul', { class: 'lesson-list', 'data-testid': 'school-lessons' }, page.events.map((e) => el('li', { class: 'lesson' }, [
      el('span', { class: 'lesson-main' }, [
        el('span', { class: 'lesson-title', text: e.title }),
        el('span', { class: 'lesson-meta', text: longWhen(e.start) }),
      ]),
      el('a', {
        class: 'btn btn-secondary btn-small', href: `/chats?chat=${enc(e.chat.id)}`, text: e.chat.title,
        onclick: (event) => {
          event.preventDefault();
          hooks.navigate(`/chats?chat=${enc(e.chat.id)}`);
        },
      }),
    ])))
    : el('p', { class: 'field-hint', text: t('noLessons') })], 'school-events');
  const codes = page.admin ? await codesCard(orgId, hasProfile) : null;
  pane.replaceChildren(el('div', { class: 'school-page' }, [
    head, stats,
    el('div', { class: 'school-grid' }, [codes, chats, channels, lessons, people]),
  ]));
  pane.dataset.loaded = 'true';
}

// ---- settings ------------------------------------------------------------------------------

function notificationsBlock() {
  const status = el('p', { class: 'field-hint', 'data-testid': 'notify-status' });
  const button = el('button', {
    type: 'button', class: 'btn btn-secondary btn-small', 'data-testid': 'btn-enable-notifications',
    html: `${icon('bell')}<span>${t('enableNotifications')}</span>`,
  });
  const sync = () => {
    const permission = 'Notification' in window ? Notification.permission : 'denied';
    button.hidden = permission !== 'default';
    status.textContent = permission === 'granted' ? t('notificationsEnabled')
      : permission === 'denied' ? t('notificationsBlocked') : t('browserNotificationsHint');
  };
  button.addEventListener('click', async () => {
    await Notification.requestPermission().catch(() => {});
    sync();
  });
  sync();
  return el('section', { class: 'dialog-stack' }, [el('h3', { class: 'section-title', text: t('browserNotifications') }), status, button]);
}

function hoursForm(profile) {
  const days = el('fieldset', { class: 'checks days' }, [
    el('legend', { text: t('workingDays') }),
    ...[1, 2, 3, 4, 5, 6, 7].map((d) => el('label', { class: 'check day' }, [
      el('input', { type: 'checkbox', value: d, checked: d <= 5, 'data-testid': `check-day-${d}` }),
      el('span', { text: t(`day${d}`) }),
    ])),
  ]);
  const from = el('input', { type: 'time', value: '08:00', step: 60, 'data-testid': 'input-hours-from' });
  const to = el('input', { type: 'time', value: '17:00', step: 60, 'data-testid': 'input-hours-to' });
  const zone = el('select', { 'data-testid': 'select-hours-tz' });
  const here = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [here];
  for (const z of zones.includes(here) ? zones : [here, ...zones]) zone.append(el('option', { value: z, text: z, selected: z === here }));
  const error = formError('hours-error');
  const save = async (body, done) => {
    showError(error, '');
    try {
      await api('PUT', `/api/profiles/${enc(profile.id)}/quiet-hours`, body);
      toasts.show({ kind: 'success', text: done, timeout: 3000 });
    } catch (failure) {
      showError(error, t('hoursFailed', { message: failure.message }));
    }
  };
  return el('form', {
    class: 'dialog-stack hours-form', novalidate: true, 'data-testid': 'hours-form',
    onsubmit: (event) => {
      event.preventDefault();
      const picked = [...days.querySelectorAll('input:checked')].map((i) => Number(i.value));
      if (!picked.length) return showError(error, t('pickDay'));
      return save({ days: picked, from: from.value, to: to.value, time_zone: zone.value }, t('hoursSaved'));
    },
  }, [
    el('h3', { class: 'section-title', text: `${t('workingHours')} · ${profile.org.name}` }),
    el('p', { class: 'field-hint', text: t('workingHoursHint') }),
    days,
    el('div', { class: 'field-row' }, [field(t('from'), from), field(t('to'), to)]),
    field(t('timeZone'), zone),
    error,
    el('div', { class: 'button-row start' }, [
      el('button', { type: 'submit', class: 'btn btn-primary btn-small', text: t('saveHours'), 'data-testid': 'btn-save-hours' }),
      el('button', {
        type: 'button', class: 'btn btn-secondary btn-small', text: t('clearHours'), 'data-testid': 'btn-clear-hours',
        onclick: () => save({ days: null }, t('hoursCleared')),
      }),
    ]),
  ]);
}

const MIN_PASSWORD = 8;
const MAX_PASSWORD = 256;

/** "Change password": the current one and a new one (PUT /api/me/password); the user's
 * other sessions end. Hidden until the account bar's button opens it. */
function passwordForm(user, toggle) {
  const fieldWithError = (label, input, key, hint = null) => {
    input.id = `password-${key}`;
    const error = el('p', { id: `password-${key}-error`, class: 'field-error', 'aria-live': 'polite', 'data-testid': `password-${key}-error` });
    const hintNode = hint ? el('p', { id: `password-${key}-hint`, class: 'field-hint', text: hint }) : null;
    input.setAttribute('aria-describedby', [hintNode?.id, error.id].filter(Boolean).join(' '));
    return [el('div', { class: 'field' }, [el('label', { for: input.id, text: label }), input, hintNode, error]), error];
  };
  const current = el('input', {
    type: 'password', required: true, maxlength: MAX_PASSWORD, autocomplete: 'current-password', 'data-testid': 'input-current-password',
  });
  const fresh = el('input', {
    type: 'password', required: true, minlength: MIN_PASSWORD, maxlength: MAX_PASSWORD, autocomplete: 'new-password', 'data-testid': 'input-new-password',
  });
  const [currentField, currentError] = fieldWithError(t('currentPasswordLabel'), current, 'current');
  const [freshField, freshError] = fieldWithError(t('newPasswordLabel'), fresh, 'new', t('passwordHint'));
  const fields = [[current, currentError], [fresh, freshError]];
  const setError = (input, key) => {
    const error = fields.find(([node]) => node === input)[1];
    error.textContent = key ? t(key) : '';
    input.setAttribute('aria-invalid', String(!!key));
    if (key) input.focus();
  };
  const clear = () => {
    for (const [input] of fields) setError(input, null);
    showError(failed, '');
  };
  const failed = formError('password-error');
  const show = el('label', { class: 'check check-small' }, [
    el('input', {
      type: 'checkbox', 'data-testid': 'check-show-passwords',
      onchange: (event) => { for (const [input] of fields) input.type = event.target.checked ? 'text' : 'password'; },
    }),
    el('span', { text: t('showPasswords') }),
  ]);
  const save = el('button', { type: 'submit', class: 'btn btn-primary btn-small', text: t('savePassword'), 'data-testid': 'btn-save-password' });
  const done = el('p', { class: 'notice notice-info', role: 'status', 'data-testid': 'password-changed', hidden: true });
  const form = el('form', {
    id: 'password-form', class: 'dialog-stack password-form', novalidate: true, hidden: true, 'data-testid': 'password-form',
    'aria-labelledby': 'password-form-title',
    onsubmit: async (event) => {
      event.preventDefault();
      clear();
      if (!current.value) return setError(current, 'currentPasswordRequired');
      if (!fresh.value) return setError(fresh, 'passwordRequired');
      if (fresh.value.length < MIN_PASSWORD) return setError(fresh, 'passwordTooShort');
      if (fresh.value.length > MAX_PASSWORD) return setError(fresh, 'passwordTooLong');
      save.disabled = true;
      save.setAttribute('aria-busy', 'true');
      try {
        const answer = await api('PUT', '/api/me/password', { current: current.value, password: fresh.value });
        const ended = Number(answer.other_sessions_ended) || 0;
        done.textContent = ended === 0 ? t('passwordChanged')
          : t(ended === 1 ? 'passwordChangedEndedOne' : 'passwordChangedEnded', { count: ended });
        done.hidden = false;
        current.value = '';
        fresh.value = '';
        form.hidden = true;
        toggle.setAttribute('aria-expanded', 'false');
        toggle.focus();
      } catch (failure) {
        if (failure.status === 403) {
          setError(current, 'currentPasswordWrong');
          current.select();
        } else if (failure.status === 429) setError(current, 'tooManyTries');
        else if (failure.status === 400) setError(fresh, fresh.value.length < MIN_PASSWORD ? 'passwordTooShort' : 'passwordTooLong');
        else showError(failed, t('passwordChangeFailed', { message: failure.message }));
      } finally {
        save.disabled = false;
        save.removeAttribute('aria-busy');
      }
      return null;
    },
  }, [
    el('h3', { id: 'password-form-title', class: 'section-title', text: t('changePassword') }),
    // for password managers: whose password this is
    el('input', { type: 'text', name: 'username', autocomplete: 'username', value: user.login, readonly: true, hidden: true, tabindex: '-1', 'aria-hidden': 'true' }),
    currentField,
    freshField,
    show,
    failed,
    el('div', { class: 'button-row start' }, [
      save,
      el('button', {
        type: 'button', class: 'btn btn-secondary btn-small', text: t('cancel'), 'data-testid': 'btn-cancel-password',
        onclick: () => {
          clear();
          current.value = '';
          fresh.value = '';
          form.hidden = true;
          toggle.setAttribute('aria-expanded', 'false');
          toggle.focus();
        },
      }),
    ]),
  ]);
  for (const [input] of fields) {
    input.addEventListener('input', () => {
      if (input.getAttribute('aria-invalid') === 'true') setError(input, null);
    });
  }
  toggle.addEventListener('click', () => {
    const open = form.hidden;
    form.hidden = !open;
    toggle.setAttribute('aria-expanded', String(open));
    done.hidden = true;
    if (open) current.focus();
    else clear();
  });
  return [form, done];
}

export function showSettings() {
  const teacher = (state.me?.profiles ?? []).filter((p) => p.role === 'teacher');
  const logout = el('button', {
    type: 'button', class: 'btn btn-secondary btn-small', 'data-testid': 'btn-logout',
    html: `${icon('logOut')}<span>${t('logOutHere')}</span>`,
    onclick: async () => {
      await fetch('/api/auth/logout', { method: 'POST', credentials: 'same-origin' }).catch(() => {});
      location.assign('/login?bye=1');
    },
  });
  const user = state.me?.user;
  const changePassword = el('button', {
    type: 'button', class: 'btn btn-secondary btn-small', 'data-testid': 'btn-change-password',
    'aria-expanded': 'false', 'aria-controls': 'password-form',
    html: `${icon('lock')}<span>${t('changePassword')}</span>`,
  });
  const [passwordBox, passwordDone] = user ? passwordForm(user, changePassword) : [null, null];
  const body = el('div', { class: 'dialog-stack settings', 'data-testid': 'settings' }, [
    user ? el('div', { class: 'account-bar settings-account' }, [
      el('span', { class: 'avatar small', text: initials(user.display_name), style: `--hue: ${hueOf(user.display_name)}`, 'aria-hidden': 'true' }),
      el('p', { class: 'account-who' }, [
        el('strong', { class: 'account-name', text: user.display_name }),
        el('span', { class: 'account-login', text: user.login }),
      ]),
      changePassword,
      logout,
    ]) : null,
    passwordDone,
    passwordBox,
    notificationsBlock(),
    ...teacher.map(hoursForm),
  ]);
  hooks.openDialog(t('settingsTitle'), body, 'settings-dialog');
}
