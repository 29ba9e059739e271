// Home screen: "Schedule a lesson" (POST /api/schedule), the upcoming lessons
// (GET /api/schedule?upcoming=1) and the past calls (GET /api/calls/history). The
// organiser of a lesson edits it in the same form (PATCH /api/schedule/{id}) and deletes
// it from its row (DELETE /api/schedule/{id}).

import { t } from '../shared/strings.js';
import { icon } from '../shared/icons.js';
import { byId, copyText, el, toasts } from '../shared/ui.js';
import { confirmDialog } from './view.js';

const MAX_NAMES = 4; // participants shown per past call before "+N more"
// The organiser's host link of each lesson scheduled in this browser, by schedule id: the
// server shows it once, when the lesson is made, and it makes whoever opens it the host.
const HOST_LINK_PREFIX = 'parta.hostLink.';

const REPEAT_LABELS = {
  'FREQ=DAILY': 'repeatDaily',
  'FREQ=WEEKLY': 'repeatWeekly',
  'FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR': 'repeatWeekdays',
};
// the form's choices for what a lesson has (minutes; the rule as the server gives it)
const DURATION_CHOICES = { 30: '30m', 45: '45m', 60: '1h', 90: '1h30m', 120: '2h', 180: '3h', 240: '4h', 300: '5h' };
const REPEAT_CHOICES = {
  'FREQ=DAILY': 'daily',
  'FREQ=WEEKLY': 'weekly',
  'FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR': 'weekdays',
};
const KEPT = ''; // an option's value: leave this as the edited lesson has it
const FORM_REMINDERS = [15, 0]; // the reminders the form has boxes for

// ---- small pure helpers -----------------------------------------------------------

const pad = (n) => String(n).padStart(2, '0');

function browserTimeZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

function timeZones(own) {
  let zones = [];
  try {
    zones = Intl.supportedValuesOf('timeZone');
  } catch {
    zones = [];
  }
  const all = new Set([own, ...zones]);
  if (!all.has('UTC')) all.add('UTC');
  return [...all].sort((a, b) => a.localeCompare(b));
}

function repeatLabel(rule) {
  if (!rule) return t('repeatNever');
  const key = REPEAT_LABELS[rule.toUpperCase()];
  return key ? t(key) : t('repeatCustom');
}

/** "Tue 3 Mar, 09:00" in the viewer's own time zone (all-day lessons: the date only). */
function formatStart(lesson) {
  const when = lesson.next ? lesson.next.start : lesson.start;
  const date = new Date(when);
  if (Number.isNaN(date.getTime())) return when;
  if (lesson.duration_minutes == null) {
    const day = new Intl.DateTimeFormat(undefined, {
      weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', timeZone: lesson.time_zone,
    }).format(date);
    return `${day}, ${t('allDay')}`;
  }
  return new Intl.DateTimeFormat(undefined, {
    weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit',
  }).format(date);
}

function formatDate(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return new Intl.DateTimeFormat(undefined, {
    day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit',
  }).format(date);
}

function formatDuration(seconds) {
  const minutes = Math.round(seconds / 60);
  if (minutes < 1) return t('lessThanMinute');
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  if (!h) return t('minutesShort', { m });
  return m ? t('hoursMinutesShort', { h, m }) : t('hoursShort', { h });
}

function participantsText(names) {
  if (!names.length) return t('noParticipants');
  const shown = names.slice(0, MAX_NAMES).join(', ');
  const rest = names.length - MAX_NAMES;
  return rest > 0 ? `${shown} ${t('moreNames', { count: rest })}` : shown;
}

async function getJson(url) {
  const response = await fetch(url, { headers: { Accept: 'application/json' } });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.json();
}

function loadHostLink(id) {
  try {
    return localStorage.getItem(HOST_LINK_PREFIX + id) || null;
  } catch {
    return null;
  }
}

function forgetHostLink(id) {
  try {
    localStorage.removeItem(HOST_LINK_PREFIX + id);
  } catch {
    // storage blocked: nothing was kept
  }
}

function saveHostLink(id, link) {
  try {
    if (link) localStorage.setItem(HOST_LINK_PREFIX + id, link);
  } catch {
    // storage blocked: the lesson's box still offers "Start as host" until the page closes
  }
}

async function copyLink(link) {
  const ok = await copyText(link);
  toasts.show({ kind: ok ? 'success' : 'warning', text: t(ok ? 'linkCopied' : 'copyFailed'), timeout: 4000 });
}

// ---- invite by e-mail (POST /api/schedule/{id}/invite) -----------------------------

let inviteForms = 0; // unique ids for the labels of the open invite forms

/** "a@b.org, c@d.org\ne@f.org" -> ["a@b.org", "c@d.org", "e@f.org"] */
function splitAddresses(text) {
  return text.split(/[\s,;]+/).filter(Boolean);
}

/**
 * Open (or re-focus) the inline invite form for `lesson` inside `slot`; `opener` is the
 * button that toggles it (its aria-expanded follows the form, focus returns to it on Cancel).
 */
function toggleInvite(lesson, slot, opener) {
  const open = slot.querySelector('.invite-form');
  if (open) {
    closeInvite(slot, opener);
    return;
  }
  const n = ++inviteForms;
  const emails = el('textarea', {
    id: `invite-emails-${n}`,
    class: 'invite-emails',
    rows: 3,
    autocomplete: 'email',
    spellcheck: 'false',
    placeholder: t('inviteEmailsPlaceholder'),
    'aria-describedby': `invite-hint-${n}`,
    'data-testid': 'invite-emails',
  });
  const error = el('p', { class: 'form-error', role: 'alert', 'data-testid': 'invite-error', hidden: true });
  const status = el('div', { class: 'invite-result', role: 'status', 'data-testid': 'invite-result', hidden: true });
  const send = el('button', {
    type: 'button',
    class: 'btn btn-primary btn-small',
    'data-testid': 'btn-invite-send',
    html: icon('mail'),
  }, [el('span', { text: t('inviteSend') })]);
  const cancel = el('button', {
    type: 'button',
    class: 'btn btn-secondary btn-small',
    'data-testid': 'invite-cancel',
    text: t('inviteCancel'),
    onclick: () => closeInvite(slot, opener),
  });
  const form = el('div', {
    class: 'invite-form',
    role: 'group',
    'aria-label': t('inviteFor', { title: lesson.title }),
    'data-testid': 'invite-form',
  }, [
    el('label', { for: emails.id, text: t('inviteEmails') }),
    emails,
    el('p', { id: `invite-hint-${n}`, class: 'field-hint', text: t('inviteEmailsHint') }),
    error,
    el('div', { class: 'button-row start' }, [send, cancel]),
    status,
  ]);

  const showInviteError = (text) => {
    error.textContent = text ?? '';
    error.hidden = !text;
    emails.setAttribute('aria-invalid', String(Boolean(text)));
  };
  const showStatus = (children) => {
    status.replaceChildren(...children);
    status.hidden = !children.length;
  };

  async function sendInvites() {
    const addresses = splitAddresses(emails.value);
    showStatus([]);
    if (!addresses.length) {
      showInviteError(t('inviteNoEmails'));
      emails.focus();
      return;
    }
    showInviteError(null);
    send.disabled = true;
    send.lastChild.textContent = t('inviteSending');
    try {
      let response;
      let answer = {};
      try {
        response = await fetch(`/api/schedule/${encodeURIComponent(lesson.id)}/invite`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
          body: JSON.stringify({ emails: addresses }),
        });
        answer = await response.json().catch(() => ({}));
      } catch {
        showInviteError(t('inviteFailed', { message: t('networkError') }));
        return;
      }
      if (!response.ok) {
        showInviteError(t('inviteFailed', { message: answer.message ?? `HTTP ${response.status}` }));
        emails.focus();
        return;
      }
      if (answer.download) {
        showStatus([
          el('p', { class: 'field-hint', text: t('inviteDownloadHint') }),
          el('a', {
            class: 'btn btn-secondary btn-small',
            href: answer.download,
            download: 'invitation.eml',
            'data-testid': 'invite-download',
            html: icon('mail'),
          }, [el('span', { text: t('inviteDownload') })]),
        ]);
      } else {
        const count = Number(answer.sent) || 0;
        showStatus([el('p', {
          class: 'invite-sent',
          text: count === 1 ? t('inviteSentOne') : t('inviteSent', { count }),
        })]);
        emails.value = '';
      }
    } finally {
      send.disabled = false;
      send.lastChild.textContent = t('inviteSend');
    }
  }

  send.addEventListener('click', sendInvites);
  emails.addEventListener('input', () => showInviteError(null));
  emails.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      sendInvites();
    }
  });
  form.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') {
      event.preventDefault();
      closeInvite(slot, opener);
    }
  });
  slot.append(form);
  slot.hidden = false;
  opener.setAttribute('aria-expanded', 'true');
  emails.focus();
}

function closeInvite(slot, opener, { focus = true } = {}) {
  slot.querySelector('.invite-form')?.remove();
  if (slot.classList.contains('invite-slot')) slot.hidden = true;
  opener.setAttribute('aria-expanded', 'false');
  if (focus) opener.focus();
}

// ---- editing and deleting one's own lesson -----------------------------------------

let editing = null; // the lesson the form edits (it then saves with PATCH), or null

/** A select's extra option "As it was (…)" for a value the form has no choice for. */
function keptChoice(select, text) {
  select.querySelector('option[data-kept]')?.remove();
  if (text == null) return;
  select.append(el('option', { value: KEPT, 'data-kept': 'true', text }));
  select.value = KEPT;
}

function setEditMode(lesson) {
  editing = lesson;
  const on = Boolean(lesson);
  byId('schedule-heading').textContent = t(on ? 'editTitle' : 'scheduleTitle');
  byId('schedule-intro').textContent = t(on ? 'editIntro' : 'scheduleIntro');
  byId('schedule-submit').textContent = t(on ? 'saveLesson' : 'scheduleButton');
  byId('schedule-cancel-edit').hidden = !on;
  byId('schedule-form').dataset.editing = on ? lesson.id : '';
}

/** Fill the form with the organiser's lesson; saving it changes that lesson. */
function startEditing(lesson) {
  const [date, time] = lesson.start.split('T');
  byId('schedule-title').value = lesson.title;
  byId('schedule-title').setAttribute('aria-invalid', 'false');
  byId('schedule-date').value = date;
  byId('schedule-time').value = (time ?? '00:00').slice(0, 5);
  const zone = byId('schedule-tz');
  if (![...zone.options].some((option) => option.value === lesson.time_zone)) {
    zone.append(el('option', { value: lesson.time_zone, text: lesson.time_zone.replaceAll('_', ' ') }));
  }
  zone.value = lesson.time_zone;
  const duration = lesson.duration_minutes == null ? 'all_day' : DURATION_CHOICES[lesson.duration_minutes];
  keptChoice(byId('schedule-duration'), duration ? null : t('durationKept', { minutes: lesson.duration_minutes }));
  if (duration) byId('schedule-duration').value = duration;
  const repeat = lesson.repeat == null ? 'never' : REPEAT_CHOICES[lesson.repeat.toUpperCase()];
  keptChoice(byId('schedule-repeat'), repeat ? null : t('repeatKept', { rule: lesson.repeat }));
  if (repeat) byId('schedule-repeat').value = repeat;
  byId('schedule-reminder-15').checked = lesson.reminders_minutes.includes(15);
  byId('schedule-reminder-0').checked = lesson.reminders_minutes.includes(0);
  byId('schedule-waiting-room').checked = lesson.waiting_room;
  setEditMode(lesson);
  showError(null);
  byId('schedule-result').hidden = true;
  byId('schedule-form').scrollIntoView({ block: 'start' });
  byId('schedule-title').focus();
}

function stopEditing() {
  if (!editing) return;
  keptChoice(byId('schedule-duration'), null);
  keptChoice(byId('schedule-repeat'), null);
  // back to a new lesson's form, as the page first shows it
  byId('schedule-duration').value = '45m';
  byId('schedule-repeat').value = 'never';
  byId('schedule-title').value = '';
  byId('schedule-date').value = '';
  byId('schedule-time').value = '';
  for (const id of ['schedule-reminder-15', 'schedule-reminder-0', 'schedule-waiting-room']) {
    byId(id).checked = true;
  }
  fillDefaults();
  setEditMode(null);
  showError(null);
}

async function deleteLesson(lesson, opener) {
  const ok = await confirmDialog({
    title: t('confirmDeleteLessonTitle', { title: lesson.title }),
    body: t('confirmDeleteLessonBody'),
    ok: t('deleteLessonOk'),
  });
  if (!ok) {
    opener.focus();
    return;
  }
  let response;
  let answer = {};
  try {
    response = await fetch(`/api/schedule/${encodeURIComponent(lesson.id)}`, {
      method: 'DELETE',
      headers: { Accept: 'application/json' },
    });
    if (!response.ok) answer = await response.json().catch(() => ({}));
  } catch {
    toasts.show({ kind: 'error', text: t('deleteFailed', { message: t('networkError') }) });
    return;
  }
  if (!response.ok) {
    toasts.show({ kind: 'error', text: t('deleteFailed', { message: answer.message ?? `HTTP ${response.status}` }) });
    return;
  }
  forgetHostLink(lesson.id);
  if (editing?.id === lesson.id) stopEditing();
  if (byId('schedule-result').dataset.lesson === lesson.id) byId('schedule-result').hidden = true;
  toasts.show({ kind: 'success', text: t('lessonDeleted', { title: lesson.title }), timeout: 4000 });
  await loadUpcoming();
}

// ---- the form ---------------------------------------------------------------------

function fillDefaults() {
  const own = browserTimeZone();
  const select = byId('schedule-tz');
  if (!select.options.length) {
    for (const zone of timeZones(own)) {
      select.append(el('option', { value: zone, text: zone.replaceAll('_', ' ') }));
    }
  }
  select.value = own;
  // the next full hour, in the browser's wall time
  const next = new Date(Date.now() + 60 * 60 * 1000);
  if (!byId('schedule-date').value) {
    byId('schedule-date').value = `${next.getFullYear()}-${pad(next.getMonth() + 1)}-${pad(next.getDate())}`;
  }
  if (!byId('schedule-time').value) byId('schedule-time').value = `${pad(next.getHours())}:00`;
}

function showError(text) {
  const node = byId('schedule-error');
  node.textContent = text ?? '';
  node.hidden = !text;
}

function showResult(lesson) {
  byId('result-title').textContent = lesson.title;
  byId('result-when').textContent = `${formatStart(lesson)} · ${repeatLabel(lesson.repeat)}`;
  byId('result-link').value = lesson.link ?? t('linkTurnedOff');
  byId('result-ics').href = lesson.calendar;
  // the students' link is the one to copy; "Start as host" is the teacher's own way in
  const hostLink = lesson.host_link ?? loadHostLink(lesson.id);
  byId('result-start').hidden = !hostLink;
  if (hostLink) byId('result-start').href = hostLink;
  byId('result-copy').hidden = !lesson.link;
  byId('result-copy').onclick = () => copyLink(lesson.link);
  const slot = byId('result-invite-slot');
  const opener = byId('result-invite');
  closeInvite(slot, opener, { focus: false });
  opener.onclick = () => toggleInvite(lesson, slot, opener);
  byId('schedule-result').dataset.lesson = lesson.id;
  byId('schedule-result').hidden = false;
}

async function submit(event) {
  event.preventDefault();
  const title = byId('schedule-title').value.trim();
  const date = byId('schedule-date').value;
  const time = byId('schedule-time').value;
  byId('schedule-title').setAttribute('aria-invalid', String(!title));
  if (!title) {
    showError(t('titleRequired'));
    byId('schedule-title').focus();
    return;
  }
  if (!date || !time) {
    showError(t('dateRequired'));
    byId(date ? 'schedule-time' : 'schedule-date').focus();
    return;
  }
  const lesson = editing; // the one being edited, or null for a new one
  const checked = ['schedule-reminder-15', 'schedule-reminder-0']
    .map(byId).filter((box) => box.checked).map((box) => Number(box.value));
  // an edited lesson keeps the reminders the form has no boxes for
  const others = lesson ? lesson.reminders_minutes.filter((m) => !FORM_REMINDERS.includes(m)) : [];
  const body = {
    title,
    start: `${date}T${time.slice(0, 5)}`,
    time_zone: byId('schedule-tz').value,
    duration: byId('schedule-duration').value,
    repeat: byId('schedule-repeat').value,
    reminders_minutes: [...others, ...checked],
    waiting_room: byId('schedule-waiting-room').checked,
  };
  if (body.duration === KEPT) delete body.duration; // "As it was"
  if (body.repeat === KEPT) delete body.repeat;
  const failed = lesson ? 'saveFailed' : 'scheduleFailed';
  const button = byId('schedule-submit');
  button.disabled = true;
  button.textContent = t(lesson ? 'saving' : 'scheduling');
  showError(null);
  try {
    let response;
    let answer = {};
    try {
      response = await fetch(lesson ? `/api/schedule/${encodeURIComponent(lesson.id)}` : '/api/schedule', {
        method: lesson ? 'PATCH' : 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify(body),
      });
      answer = await response.json().catch(() => ({}));
    } catch {
      showError(t(failed, { message: t('networkError') }));
      return;
    }
    if (!response.ok) {
      byId('schedule-result').hidden = true;
      showError(t(failed, { message: answer.message ?? `HTTP ${response.status}` }));
      byId('schedule-title').setAttribute('aria-invalid', String(answer.message?.includes('title') ?? false));
      return;
    }
    if (lesson) {
      stopEditing();
      toasts.show({ kind: 'success', text: t('lessonSaved', { title: answer.title }), timeout: 4000 });
    }
    saveHostLink(answer.id, answer.host_link);
    showResult(answer);
    loadUpcoming();
  } finally {
    button.disabled = false;
    button.textContent = t(editing ? 'saveLesson' : 'scheduleButton');
  }
}

// ---- the lists --------------------------------------------------------------------

function lessonItem(lesson) {
  const hostLink = loadHostLink(lesson.id); // only for lessons scheduled in this browser
  const slot = el('div', { class: 'invite-slot lesson-invite', hidden: true });
  const invite = el('button', {
    type: 'button',
    class: 'btn btn-icon',
    title: t('inviteByEmail'),
    'aria-label': t('inviteFor', { title: lesson.title }),
    'aria-expanded': 'false',
    'data-testid': 'upcoming-invite',
    html: icon('mail'),
    onclick: () => toggleInvite(lesson, slot, invite),
  });
  const linkOff = !lesson.link;
  const remove = lesson.mine ? el('button', {
    type: 'button',
    class: 'btn btn-icon',
    title: t('deleteLesson'),
    'aria-label': t('deleteLessonFor', { title: lesson.title }),
    'data-testid': 'upcoming-delete',
    html: icon('trash'),
  }) : null;
  remove?.addEventListener('click', () => deleteLesson(lesson, remove));
  return el('li', { class: 'lesson', 'data-testid': `upcoming-${lesson.id}` }, [
    el('div', { class: 'lesson-main' }, [
      el('span', { class: 'lesson-title' }, [
        lesson.title,
        linkOff ? el('span', { class: 'tag', 'data-testid': 'link-off', text: t('linkTurnedOff') }) : null,
      ]),
      el('span', { class: 'lesson-meta', text: `${formatStart(lesson)} · ${repeatLabel(lesson.repeat)}` }),
      lesson.problem
        ? el('span', {
          class: 'lesson-meta lesson-problem',
          'data-testid': 'lesson-problem',
          text: t('lessonProblem', { problem: lesson.problem }),
        })
        : null,
    ]),
    el('div', { class: 'lesson-actions' }, [
      lesson.mine ? el('button', {
        type: 'button',
        class: 'btn btn-icon',
        title: t('editLesson'),
        'aria-label': t('editLessonFor', { title: lesson.title }),
        'data-testid': 'upcoming-edit',
        html: icon('edit'),
        onclick: () => startEditing(lesson),
      }) : null,
      remove,
      linkOff ? null : el('button', {
        type: 'button',
        class: 'btn btn-icon',
        title: t('copyLink'),
        'aria-label': t('copyLinkFor', { title: lesson.title }),
        'data-testid': 'upcoming-copy',
        html: icon('copy'),
        onclick: () => copyLink(lesson.link),
      }),
      el('a', {
        class: 'btn btn-icon',
        href: lesson.calendar,
        download: 'lesson.ics',
        title: t('addToCalendar'),
        'aria-label': t('calendarFor', { title: lesson.title }),
        'data-testid': 'upcoming-ics',
        html: icon('calendar'),
      }),
      linkOff ? null : invite,
      hostLink
        ? el('a', {
          class: 'btn btn-primary btn-small',
          href: hostLink,
          'aria-label': t('startAsHostFor', { title: lesson.title }),
          title: t('startAsHostHint'),
          'data-testid': 'upcoming-start-host',
          text: t('startAsHost'),
        })
        : null,
      !hostLink && !linkOff
        ? el('a', {
          class: 'btn btn-primary btn-small',
          href: lesson.link,
          'aria-label': t('joinLesson', { title: lesson.title }),
          'data-testid': 'upcoming-join',
          text: t('join'),
        })
        : null,
    ]),
    slot,
  ]);
}

function historyItem(call) {
  const meta = `${formatDate(call.started_at)} · ${formatDuration(call.duration_seconds)}`;
  return el('li', { class: 'lesson', 'data-testid': `history-${call.call}` }, [
    el('div', { class: 'lesson-main' }, [
      el('span', { class: 'lesson-title' }, [
        call.title || call.call,
        call.ended_by_host
          ? el('span', { class: 'tag', 'data-testid': 'ended-by-host', text: t('endedByHost') })
          : null,
      ]),
      el('span', { class: 'lesson-meta', text: meta }),
      el('span', {
        class: 'lesson-meta lesson-people',
        title: call.participants.join(', '),
        text: participantsText(call.participants),
      }),
    ]),
  ]);
}

async function fillList(listId, emptyId, url, make) {
  const list = byId(listId);
  const empty = byId(emptyId);
  try {
    const { calls } = await getJson(url);
    list.replaceChildren(...calls.map(make));
    empty.textContent = t(emptyId === 'upcoming-empty' ? 'upcomingEmpty' : 'historyEmpty');
    empty.hidden = calls.length > 0;
  } catch {
    list.replaceChildren();
    empty.textContent = t('listFailed');
    empty.hidden = false;
  }
  list.dataset.loaded = 'true';
}

function loadUpcoming() {
  return fillList('upcoming-list', 'upcoming-empty', '/api/schedule?upcoming=1', lessonItem);
}

function loadHistory() {
  return fillList('history-list', 'history-empty', '/api/calls/history', historyItem);
}

let wired = false;

/** Called whenever the home screen is shown. */
export function showScheduling() {
  if (!wired) {
    wired = true;
    byId('schedule-form').addEventListener('submit', submit);
    byId('schedule-title').addEventListener('input', () => {
      byId('schedule-title').setAttribute('aria-invalid', 'false');
    });
    byId('result-link').addEventListener('focus', (event) => event.target.select());
    byId('schedule-cancel-edit').addEventListener('click', () => {
      const id = editing?.id;
      stopEditing();
      byId('upcoming-list').querySelector(`[data-testid="upcoming-${id}"] [data-testid="upcoming-edit"]`)?.focus();
    });
    byId('schedule-form').addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && editing && !event.target.closest('.invite-form')) {
        event.preventDefault();
        byId('schedule-cancel-edit').click();
      }
    });
  }
  fillDefaults();
  loadUpcoming();
  loadHistory();
}
