// Broadcasting live, on the call screen: the LIVE mark for everyone; for hosts the Go
// live button and its popover (whom for, the watch link, viewers, end).

import { t } from '../../shared/strings.js';
import { icon } from '../../shared/icons.js';
import { byId, copyText, el, toasts } from '../../shared/ui.js';
import { confirmDialog, iconOf, setControl } from './widgets.js';

export const broadcastMethods = {
  bindBroadcast() {
    byId('live-indicator').querySelector('.live-icon').innerHTML = iconOf('broadcast');
    byId('btn-broadcast').addEventListener('click', () => {
      if (this.broadcastOpen) this.closeBroadcast(true);
      else this.openBroadcast();
    });
    byId('broadcast-close').addEventListener('click', () => this.closeBroadcast(true));
    byId('broadcast-cancel').addEventListener('click', () => this.closeBroadcast(true));
    for (const radio of document.querySelectorAll('input[name="broadcast-audience"]')) {
      radio.addEventListener('change', () => {
        if (radio.checked) this.audience = radio.value;
        this.render();
      });
    }
    byId('broadcast-setup').addEventListener('submit', (event) => {
      event.preventDefault();
      this.startBroadcast();
    });
    byId('watch-link').addEventListener('focus', (event) => event.target.select());
    byId('btn-copy-watch-link').addEventListener('click', async () => {
      const url = this.session?.watchUrl();
      if (!url) return;
      const ok = await copyText(url);
      toasts.show({ id: 'copy', kind: ok ? 'success' : 'error', text: t(ok ? 'watchLinkCopied' : 'copyFailed'), timeout: 4000 });
    });
    byId('btn-new-watch-link').addEventListener('click', () => this.confirmNewWatchLink());
    byId('btn-end-broadcast').addEventListener('click', () => this.confirmEndBroadcast());
    // a click elsewhere closes the popover (not while an "are you sure?" is asked)
    document.addEventListener('pointerdown', (event) => {
      if (!this.broadcastOpen || byId('confirm').open) return;
      if (byId('broadcast-pop').contains(event.target) || byId('btn-broadcast').contains(event.target)) return;
      this.closeBroadcast(false);
    });
    window.addEventListener('resize', () => { if (this.broadcastOpen) this.placeBroadcast(); });
  },

  openBroadcast() {
    const s = this.session;
    if (!s?.isHost()) return;
    this.broadcastOpen = true;
    this.renderNow();
    const first = s.broadcasting
      ? byId('btn-copy-watch-link')
      : document.querySelector('input[name="broadcast-audience"]:checked') ?? byId('broadcast-start');
    first.focus();
  },

  closeBroadcast(focusButton) {
    if (!this.broadcastOpen) return;
    this.broadcastOpen = false;
    byId('broadcast-pop').hidden = true;
    byId('btn-broadcast').setAttribute('aria-expanded', 'false');
    if (focusButton && !byId('btn-broadcast').hidden) byId('btn-broadcast').focus();
  },

  /** The broadcast started or ended: an ended one closes the host's popover. */
  onBroadcastChanged(on, changed) {
    if (changed && !on && this.broadcastOpen) {
      const inside = byId('broadcast-pop').contains(document.activeElement);
      this.closeBroadcast(inside);
    }
  },

  /** The LIVE mark for everyone; the Go live button (and its popover) for hosts. */
  renderBroadcast(s) {
    const live = s.broadcasting;
    byId('live-indicator').hidden = !live;
    byId('screen-call').classList.toggle('live', live);
    const button = byId('btn-broadcast');
    button.hidden = !s.isHost();
    if (button.hidden) {
      this.closeBroadcast(false);
      return;
    }
    const starting = s.broadcastBusy === 'start_broadcast';
    setControl('btn-broadcast', {
      icon: 'broadcast',
      label: t(live ? 'liveButtonTitle' : 'goLiveTitle'),
      text: t(live ? 'liveButton' : 'goLive'),
      title: t(live ? 'liveButtonTitle' : 'goLiveTitle'),
    });
    button.classList.toggle('live', live);
    button.classList.toggle('busy', starting);
    button.setAttribute('aria-expanded', String(this.broadcastOpen));
    this.renderBroadcastPop(s);
  },

  renderBroadcastPop(s) {
    const pop = byId('broadcast-pop');
    pop.hidden = !this.broadcastOpen;
    if (!this.broadcastOpen) return;
    const live = s.broadcasting;
    pop.classList.toggle('is-live', live);
    byId('broadcast-title').textContent = t(live ? 'liveHeading' : 'goLiveHeading');
    byId('broadcast-setup').hidden = live;
    byId('broadcast-live').hidden = !live;
    if (live) this.renderLivePanel(s);
    else this.renderSetup(s);
    this.placeBroadcast();
  },

  renderSetup(s) {
    const schools = this.schools();
    const members = byId('broadcast-members');
    const noSchool = Array.isArray(schools) && schools.length === 0;
    members.disabled = noSchool;
    members.closest('label').classList.toggle('disabled', noSchool);
    if (noSchool && this.audience === 'members') this.audience = 'public';
    this.audience ??= noSchool ? 'public' : 'members';
    members.checked = this.audience === 'members';
    byId('broadcast-public').checked = this.audience === 'public';
    let hint = t('onlyOurSchoolAny');
    if (noSchool) hint = t('onlyOurSchoolNone');
    else if (schools?.length === 1 && schools[0].name) hint = t('onlyOurSchoolHint', { school: schools[0].name });
    byId('broadcast-members-hint').textContent = hint;
    // more than one school: which one's members may watch
    const select = byId('broadcast-school');
    const several = Array.isArray(schools) && schools.length > 1;
    select.hidden = !several || this.audience !== 'members';
    if (several && select.options.length !== schools.length) {
      select.replaceChildren(...schools.map((school) => el('option', { value: school.id, text: school.name || school.id })));
    }
    const starting = s.broadcastBusy === 'start_broadcast';
    const start = byId('broadcast-start');
    const startText = t(starting ? 'broadcastStarting' : 'startBroadcast');
    if (start.dataset.text !== startText) {
      start.dataset.text = startText;
      start.innerHTML = iconOf('broadcast');
      start.append(el('span', { text: startText }));
    }
    if (starting) start.setAttribute('aria-disabled', 'true');
    else start.removeAttribute('aria-disabled');
    start.classList.toggle('busy', starting);
  },

  renderLivePanel(s) {
    const audience = byId('broadcast-audience');
    const audienceText = `${t('youAreLive')}. ${t(s.broadcastPublic ? 'liveAudiencePublic' : 'liveAudienceMembers')}`;
    if (audience.dataset.text !== audienceText) {
      audience.dataset.text = audienceText;
      audience.replaceChildren(
        el('span', { class: 'live-pill', 'aria-hidden': 'true', text: t('liveIndicator') }),
        el('span', { text: audienceText }),
      );
    }
    const url = s.watchUrl() ?? '';
    const box = byId('watch-link');
    if (box.value !== url) box.value = url;
    const copy = byId('btn-copy-watch-link');
    if (url) copy.removeAttribute('aria-disabled');
    else copy.setAttribute('aria-disabled', 'true');
    const renewing = s.broadcastBusy === 'new_watch_link';
    const renew = byId('btn-new-watch-link');
    renew.classList.toggle('busy', renewing);
    if (renewing) renew.setAttribute('aria-disabled', 'true');
    else renew.removeAttribute('aria-disabled');
    const { webrtc, hls } = s.broadcastViewers;
    byId('viewers-total').textContent = t('viewersCount', { count: webrtc + hls });
    byId('viewers-split').textContent = t('viewersSplit', { webrtc, hls });
    const end = byId('btn-end-broadcast');
    const ending = s.broadcastBusy === 'stop_broadcast';
    end.classList.toggle('busy', ending);
    if (ending) end.setAttribute('aria-disabled', 'true');
    else end.removeAttribute('aria-disabled');
  },

  /** Above the controls bar, under the Go live button where it fits (a sheet on phones). */
  placeBroadcast() {
    const pop = byId('broadcast-pop');
    const controls = document.querySelector('#screen-call .controls').getBoundingClientRect();
    pop.style.setProperty('--pop-bottom', `${Math.max(0, Math.round(window.innerHeight - controls.top + 8))}px`);
    const button = byId('btn-broadcast').getBoundingClientRect();
    const width = pop.offsetWidth;
    const left = Math.min(Math.max(12, button.left + button.width / 2 - width / 2), window.innerWidth - width - 12);
    pop.style.setProperty('--pop-left', `${Math.max(12, Math.round(left))}px`);
  },

  startBroadcast() {
    const s = this.session;
    if (!s?.isHost() || s.broadcastBusy || s.broadcasting) return;
    if (this.audience === 'public') {
      s.startBroadcast(true);
      return;
    }
    const select = byId('broadcast-school');
    s.startBroadcast(false, select.hidden ? null : select.value || null);
  },

  async confirmNewWatchLink() {
    const s = this.session;
    if (!s?.isHost() || !s.broadcasting || s.broadcastBusy) return;
    const ok = await confirmDialog({
      title: t('newWatchLinkTitle'),
      body: t('newWatchLinkBody'),
      ok: t('newLink'),
    });
    if (ok && this.session === s && s.broadcasting) s.newWatchLink();
  },

  async confirmEndBroadcast() {
    const s = this.session;
    if (!s?.isHost() || !s.broadcasting || s.broadcastBusy) return;
    const ok = await confirmDialog({
      title: t('endBroadcastTitle'),
      body: t('endBroadcastBody'),
      ok: t('endBroadcast'),
    });
    if (ok && this.session === s && s.broadcasting) s.stopBroadcast();
  },
};
