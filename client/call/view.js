// The call screen: video tiles (grid, or a large stage with a strip beside it), the
// controls bar and the people panel. It reads a CallSession and never talks to the server.

import { t } from '../shared/strings.js';
import { icon } from '../shared/icons.js';
import { byId, copyText, el, hueOf, initials, showScreen, toasts } from '../shared/ui.js';
import { isHostRole } from './session.js';

const GAP_PX = 10;
// Below this width a tile's name and video are too small; the grid scrolls instead.
const MIN_TILE_W = 150;
// "On air": a dot sending waves both ways — the Go live button and the LIVE badge.
const BROADCAST_PATH =
  '<circle cx="12" cy="12" r="2" fill="currentColor"/>' +
  '<path d="M16.24 7.76a6 6 0 0 1 0 8.49M7.76 16.25a6 6 0 0 1 0-8.49' +
  'M19.07 4.93a10 10 0 0 1 0 14.14M4.93 19.07a10 10 0 0 1 0-14.14"/>';

/** An icon from icons.js, or the broadcast one (which lives here). */
function iconOf(name) {
  if (name !== 'broadcast') return icon(name);
  return (
    '<svg class="icon" viewBox="0 0 24 24" width="24" height="24" fill="none" ' +
    'stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" ' +
    `aria-hidden="true" focusable="false">${BROADCAST_PATH}</svg>`
  );
}

export class CallView {
  /**
   * `onLeft(session)` is called once the session has left the call; `onOver(session,
   * reason)` once the server ended it for good (removed, ended, denied).
   */
  constructor({ onLeft, onOver, schools = () => null }) {
    this.session = null;
    this.schools = schools; // [{id, name}] we belong to, or null while unknown
    this.broadcastOpen = false; // hosts: the "Go live" / live broadcast popover
    this.audience = null; // 'members' | 'public': picked in the popover
    this.onLeftCallback = onLeft;
    this.onOverCallback = onOver;
    this.rows = new Map(); // people panel rows by peer id
    this.waitRows = new Map(); // waiting list rows by peer id
    this.expanded = null; // the peer id whose "More" actions are open
    this.previewTrack = null; // the waiting screen's camera preview
    this.tiles = new Map(); // key -> {root, video, avatar, mic, name, pin, track}
    this.audio = new Map(); // remote track id -> <audio>
    this.pinned = null;
    this.panelOpen = false;
    this.renderQueued = false;
    this.area = byId('call-area');
    this.grid = byId('grid');
    this.stage = byId('stage');

    new ResizeObserver(() => this.layout()).observe(this.area);
    byId('btn-mic').addEventListener('click', () => this.session?.toggleSource('microphone'));
    byId('btn-camera').addEventListener('click', () => this.session?.toggleSource('camera'));
    byId('btn-screen').addEventListener('click', () => this.session?.toggleScreen());
    byId('btn-people').addEventListener('click', () => this.togglePanel());
    byId('panel-close').addEventListener('click', () => {
      this.togglePanel(false);
      byId('btn-people').focus();
    });
    byId('btn-leave').addEventListener('click', () => this.session?.leave());
    byId('btn-end-call').addEventListener('click', () => this.confirmEndCall());
    byId('btn-record').addEventListener('click', () => this.toggleRecording());
    this.bindBroadcast();
    byId('switch-waiting-room').addEventListener('click', () => {
      const s = this.session;
      if (s?.isHost()) s.setWaitingRoom(!s.waitingRoom);
    });
    byId('btn-admit-all').addEventListener('click', () => this.session?.admitAll());
    byId('btn-new-link').addEventListener('click', () => this.confirmNewLink());
    byId('btn-revoke-link').addEventListener('click', () => this.confirmRevokeLink());
    byId('invite-link').addEventListener('focus', (event) => event.target.select());
    byId('waiting-leave').addEventListener('click', () => this.session?.leave());
    byId('waiting-btn-mic').addEventListener('click', () => this.session?.toggleSource('microphone'));
    byId('waiting-btn-camera').addEventListener('click', () => this.session?.toggleSource('camera'));
    document.addEventListener('keydown', (event) => this.onKey(event));
  }

  attach(session) {
    this.clear();
    this.session = session;
    this.pinned = null;
    this.expanded = null;
    byId('call-title').textContent = session.call;
    document.title = `${session.call} — ${t('appName')}`;
    showScreen('screen-call');
    this.renderNow();
  }

  clear() {
    for (const tile of this.tiles.values()) {
      tile.video.srcObject = null;
      tile.root.remove();
    }
    this.tiles.clear();
    for (const node of this.audio.values()) {
      node.srcObject = null;
      node.remove();
    }
    this.audio.clear();
    for (const row of this.rows.values()) row.root.remove();
    this.rows.clear();
    for (const row of this.waitRows.values()) row.root.remove();
    this.waitRows.clear();
    this.setPreview(null);
  }

  onLeft() {
    const session = this.session;
    this.detach();
    this.onLeftCallback(session);
  }

  /** The server ended our part in the call: removed, the call ended, or not let in. */
  onOver(reason) {
    const session = this.session;
    this.detach();
    this.onOverCallback(session, reason);
  }

  detach() {
    this.clear();
    this.session = null;
    this.panelOpen = false;
    this.expanded = null;
    const dialog = byId('confirm');
    if (dialog.open) dialog.close('cancel');
    toasts.hide('sound');
    toasts.hide('waiting');
    toasts.hide('recording');
    toasts.hide('broadcast');
    byId('rec-indicator').hidden = true;
    byId('live-indicator').hidden = true;
    this.broadcastOpen = false;
    byId('broadcast-pop').hidden = true;
  }

  onScreenShareStarted() {
    this.pinned = null; // a new presentation takes the stage
  }

  setStatus(status) {
    const node = byId('conn-status');
    const text = {
      devices: t('gettingDevices'),
      connecting: t('connecting'),
      reconnecting: t('connecting'),
      offline: t('reconnectFailed'),
      connected: '',
    }[status] ?? '';
    node.dataset.status = status;
    byId('screen-call').dataset.status = status;
    node.textContent = text;
    node.hidden = !text;
    this.render();
  }

  /** Coalesce the many state changes of one event-loop turn into one DOM update. */
  render() {
    if (this.renderQueued) return;
    this.renderQueued = true;
    queueMicrotask(() => {
      this.renderQueued = false;
      this.renderNow();
    });
  }

  renderNow() {
    const s = this.session;
    if (!s) return;
    if (s.waiting) {
      if (byId('screen-waiting').hidden) {
        showScreen('screen-waiting');
        byId('waiting-call-title').focus();
      }
      this.renderWaiting(s);
      return;
    }
    if (byId('screen-call').hidden) {
      showScreen('screen-call');
    }
    // a scheduled lesson is shown by its title once `joined` has told it
    const heading = s.title ?? s.call;
    if (byId('call-title').textContent !== heading) {
      byId('call-title').textContent = heading;
      document.title = `${heading} — ${t('appName')}`;
    }
    this.setPreview(null);
    const items = this.tileItems(s);
    const stageKey = this.pickStage(items);

    const seen = new Set();
    for (const item of items) {
      const tile = this.tiles.get(item.key) ?? this.createTile(item);
      this.updateTile(tile, item, s);
      seen.add(item.key);
    }
    for (const [key, tile] of this.tiles) {
      if (seen.has(key)) continue;
      tile.video.srcObject = null;
      tile.root.remove();
      this.tiles.delete(key);
    }

    this.area.classList.toggle('presenting', !!stageKey);
    this.grid.classList.toggle('strip', !!stageKey);
    this.stage.hidden = !stageKey;
    if (stageKey) {
      const root = this.tiles.get(stageKey).root;
      if (root.parentNode !== this.stage) this.stage.replaceChildren(root);
    } else {
      this.stage.replaceChildren();
    }
    let rest = items.filter((item) => item.key !== stageKey);
    if (stageKey && s.activeSpeaker) {
      // Beside a presentation, the one who speaks comes first in the strip.
      const first = rest.filter((i) => i.peerId === s.activeSpeaker && i.source === 'camera');
      rest = [...first, ...rest.filter((i) => !first.includes(i))];
    }
    placeInOrder(this.grid, rest.map((item) => this.tiles.get(item.key).root));
    this.grid.dataset.count = String(rest.length);
    // Moving a <video> in the document may pause it.
    for (const tile of this.tiles.values()) {
      if (tile.track && tile.video.paused) tile.video.play().catch(() => {});
    }
    this.layout();
    this.renderControls(s);
    this.renderPanel(s);
    this.syncAudio(s);
  }

  /** What to show: our own tile first, then each peer's camera tile and screen tile. */
  tileItems(s) {
    const selfId = s.peerId ?? 'local';
    const items = [{
      key: 'self',
      testid: `tile-${selfId}`,
      peerId: s.peerId,
      name: s.name,
      role: s.role,
      local: true,
      source: 'camera',
      track: s.local.camera && !s.muted.camera ? s.local.camera : null,
      micOff: !s.local.microphone || s.muted.microphone,
    }];
    if (s.local.screen) {
      items.push({
        key: 'self:screen',
        testid: `tile-${selfId}-screen`,
        peerId: s.peerId,
        name: s.name,
        local: true,
        source: 'screen',
        track: s.local.screen,
        micOff: false,
      });
    }
    for (const peer of s.peers.values()) {
      const media = s.remote.get(peer.id) ?? {};
      const published = (source) => peer.tracks.find((tr) => tr.source === source);
      const camera = published('camera');
      const mic = published('microphone');
      items.push({
        key: `peer:${peer.id}`,
        testid: `tile-${peer.id}`,
        peerId: peer.id,
        name: peer.name,
        role: peer.role,
        local: false,
        source: 'camera',
        track: camera && !camera.muted ? usable(media.camera?.track) : null,
        micOff: !mic || !!mic.muted,
      });
      if (published('screen') || media.screen) {
        items.push({
          key: `peer:${peer.id}:screen`,
          testid: `tile-${peer.id}-screen`,
          peerId: peer.id,
          name: peer.name,
          local: false,
          source: 'screen',
          track: usable(media.screen?.track),
          micOff: false,
        });
      }
    }
    return items;
  }

  /** The large spot: a pinned tile, else someone's screen (others' before our own). */
  pickStage(items) {
    if (this.pinned && items.some((item) => item.key === this.pinned)) return this.pinned;
    this.pinned = null;
    const screens = items.filter((item) => item.source === 'screen');
    return (screens.find((item) => !item.local) ?? screens[0])?.key ?? null;
  }

  togglePin(key) {
    this.pinned = this.pinned === key ? null : key;
    this.render();
  }

  createTile(item) {
    const video = el('video', { autoplay: true, playsinline: true, muted: true });
    video.muted = true; // sound plays through the hidden <audio> elements
    const avatar = el('div', { class: 'avatar', 'aria-hidden': 'true' });
    const mic = el('span', { class: 'tile-mic', html: icon('micOff'), title: t('micOff') });
    const name = el('span', { class: 'tile-name' });
    const badge = el('span', { class: 'role-badge tile-badge' });
    const pin = el('button', {
      type: 'button',
      class: 'btn btn-icon tile-pin',
      onclick: () => this.togglePin(item.key),
    });
    const root = el('div', { class: 'tile', role: 'group' }, [
      video,
      el('div', { class: 'avatar-wrap' }, avatar),
      el('div', { class: 'tile-label' }, [mic, name, badge]),
      pin,
    ]);
    const tile = { root, video, avatar, mic, name, badge, pin, track: null, pinIcon: null };
    this.tiles.set(item.key, tile);
    return tile;
  }

  updateTile(tile, item, s) {
    const { root, video } = tile;
    const isScreen = item.source === 'screen';
    const speaking = !isScreen && item.peerId != null && item.peerId === s.activeSpeaker;
    const track = item.track ?? null;
    if (tile.track !== track) {
      tile.track = track;
      video.srcObject = track ? new MediaStream([track]) : null;
    }
    root.setAttribute('data-testid', item.testid);
    root.dataset.peerId = item.peerId ?? '';
    root.dataset.source = item.source;
    root.dataset.video = track ? 'on' : 'off';
    root.dataset.micMuted = String(!isScreen && item.micOff);
    root.classList.toggle('screen', isScreen);
    root.classList.toggle('local', item.local);
    root.classList.toggle('speaking', speaking);
    root.classList.toggle('no-video', !track);
    video.classList.toggle('mirror', item.local && !isScreen);

    const label = isScreen
      ? (item.local ? t('youArePresenting') : t('presenting', { name: item.name }))
      : (item.local ? t('youSuffix', { name: item.name }) : item.name);
    tile.name.textContent = label;
    tile.mic.hidden = isScreen || !item.micOff;
    const roleText = !isScreen && isHostRole(item.role) ? t(item.role) : '';
    tile.badge.hidden = !roleText;
    tile.badge.textContent = roleText;
    tile.badge.setAttribute('data-testid', `host-badge-${item.peerId ?? 'local'}`);
    tile.avatar.textContent = initials(item.name);
    tile.avatar.style.setProperty('--hue', String(hueOf(item.name)));
    root.setAttribute('aria-label', [
      label,
      roleText || null,
      !isScreen && item.micOff ? t('micOff') : null,
      !isScreen && !track ? t('cameraOff') : null,
      speaking ? t('speaking') : null,
    ].filter(Boolean).join(', '));

    const pinned = this.pinned === item.key;
    const pinIcon = pinned ? 'unpin' : 'pin';
    if (tile.pinIcon !== pinIcon) {
      tile.pinIcon = pinIcon;
      tile.pin.innerHTML = icon(pinIcon);
    }
    const pinLabel = t(pinned ? 'unpin' : 'pin', { name: label });
    tile.pin.setAttribute('aria-label', pinLabel);
    tile.pin.title = pinLabel;
    tile.pin.setAttribute('aria-pressed', String(pinned));
    tile.pin.setAttribute('data-testid', `pin-${item.testid.slice('tile-'.length)}`);
  }

  /** Size grid tiles so that all fit the area as large as possible, or scroll if tiny. */
  layout() {
    const grid = this.grid;
    if (this.area.classList.contains('presenting')) {
      grid.style.removeProperty('--cols');
      return;
    }
    const n = grid.children.length;
    const width = grid.clientWidth;
    const height = grid.clientHeight;
    if (!n || !width || !height) return;
    // Phones held upright get taller tiles; faces fill them better than 16:9.
    const aspect = width < height * 0.8 ? (n <= 2 ? 3 / 4 : 1) : 16 / 9;
    let best = { cols: 1, w: 0 };
    for (let cols = 1; cols <= n; cols += 1) {
      const rows = Math.ceil(n / cols);
      const w = Math.min(
        (width - GAP_PX * (cols - 1)) / cols,
        ((height - GAP_PX * (rows - 1)) / rows) * aspect,
      );
      if (w > best.w) best = { cols, w };
    }
    if (best.w < MIN_TILE_W) {
      const cols = Math.max(1, Math.floor((width + GAP_PX) / (MIN_TILE_W + GAP_PX)));
      best = { cols, w: (width - GAP_PX * (cols - 1)) / cols };
    }
    grid.style.setProperty('--cols', String(best.cols));
    grid.style.setProperty('--tile-w', `${Math.floor(best.w)}px`);
    grid.style.setProperty('--tile-h', `${Math.floor(best.w / aspect)}px`);
  }

  renderControls(s) {
    const micOn = !!s.local.microphone && !s.muted.microphone;
    const micLocked = s.locked.has('microphone');
    setControl('btn-mic', {
      pressed: micOn,
      icon: micOn ? 'mic' : 'micOff',
      off: !micOn,
      locked: micLocked,
      label: micLocked ? `${t('microphone')}: ${t('hostTurnedOff')}` : t('microphone'),
      title: micLocked ? t('hostTurnedOff') : t(micOn ? 'turnMicOff' : 'turnMicOn'),
    });
    const cameraOn = !!s.local.camera && !s.muted.camera;
    const cameraLocked = s.locked.has('camera');
    setControl('btn-camera', {
      pressed: cameraOn,
      icon: cameraOn ? 'camera' : 'cameraOff',
      off: !cameraOn,
      locked: cameraLocked,
      label: cameraLocked ? `${t('camera')}: ${t('hostTurnedOff')}` : t('camera'),
      title: cameraLocked ? t('hostTurnedOff') : t(cameraOn ? 'turnCameraOff' : 'turnCameraOn'),
    });
    const sharing = !!s.local.screen;
    byId('btn-screen').hidden = !navigator.mediaDevices?.getDisplayMedia;
    setControl('btn-screen', {
      pressed: sharing,
      icon: sharing ? 'screenStop' : 'screen',
      active: sharing,
      label: t(sharing ? 'stopSharing' : 'shareScreen'),
      text: t(sharing ? 'stopSharing' : 'shareScreen'),
      title: t(sharing ? 'stopSharing' : 'shareScreen'),
    });
    const count = s.peers.size + 1;
    byId('people-count').textContent = String(count);
    const waitingCount = s.isHost() ? s.waitingList.length : 0;
    const badge = byId('waiting-badge');
    badge.hidden = !waitingCount;
    badge.textContent = String(waitingCount);
    const waitingText = waitingCount ? t('waitingCount', { count: waitingCount }) : '';
    setControl('btn-people', {
      pressed: this.panelOpen,
      icon: 'people',
      label: [`${t('participants')} ${count}`, waitingText].filter(Boolean).join(', '),
      title: [t('participantsTitle', { count }), waitingText].filter(Boolean).join(' — '),
    });
    setControl('btn-leave', { icon: 'leave', label: t('leave'), title: t('leaveTitle') });
    byId('btn-end-call').hidden = !s.isHost();
    this.renderRecording(s);
    this.renderBroadcast(s);
    // Hosts share the invite link from the top bar too; participants have none to share.
    byId('topbar-copy-link').hidden = !s.inviteUrl() || !s.isHost();
    setControl('btn-end-call', {
      icon: 'power',
      label: t('endCallForEveryone'),
      title: t('endCallForEveryone'),
    });
  }

  /** The REC mark for everyone; the Record button for hosts. */
  renderRecording(s) {
    const indicator = byId('rec-indicator');
    indicator.hidden = !s.recording;
    byId('screen-call').classList.toggle('recording', s.recording);
    const button = byId('btn-record');
    button.hidden = !s.isHost();
    if (button.hidden) return;
    const on = s.recording;
    setControl('btn-record', {
      pressed: on,
      icon: on ? 'recordStop' : 'record',
      label: s.recordingBusy ? t('recordBusy') : t(on ? 'stopRecordTitle' : 'record'),
      text: t(on ? 'stopRecord' : 'record'),
      title: s.recordingBusy ? t('recordBusy') : t(on ? 'stopRecordTitle' : 'recordTitle'),
    });
    button.classList.toggle('recording', on);
    // aria-disabled, not disabled: the button keeps the keyboard focus while it waits
    if (s.recordingBusy) button.setAttribute('aria-disabled', 'true');
    else button.removeAttribute('aria-disabled');
    button.classList.toggle('busy', s.recordingBusy);
  }

  async toggleRecording() {
    const s = this.session;
    if (!s?.isHost() || s.recordingBusy) return;
    if (!s.recording) {
      s.startRecording();
      return;
    }
    const ok = await confirmDialog({
      title: t('stopRecordingTitle'),
      body: t('stopRecordingBody'),
      ok: t('stopRecordingOk'),
    });
    if (ok && this.session === s && s.recording) s.stopRecording();
  }

  // ---- broadcasting live -------------------------------------------------------------

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
  }

  openBroadcast() {
    const s = this.session;
    if (!s?.isHost()) return;
    this.broadcastOpen = true;
    this.renderNow();
    const first = s.broadcasting
      ? byId('btn-copy-watch-link')
      : document.querySelector('input[name="broadcast-audience"]:checked') ?? byId('broadcast-start');
    first.focus();
  }

  closeBroadcast(focusButton) {
    if (!this.broadcastOpen) return;
    this.broadcastOpen = false;
    byId('broadcast-pop').hidden = true;
    byId('btn-broadcast').setAttribute('aria-expanded', 'false');
    if (focusButton && !byId('btn-broadcast').hidden) byId('btn-broadcast').focus();
  }

  /** The broadcast started or ended: an ended one closes the host's popover. */
  onBroadcastChanged(on, changed) {
    if (changed && !on && this.broadcastOpen) {
      const inside = byId('broadcast-pop').contains(document.activeElement);
      this.closeBroadcast(inside);
    }
  }

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
  }

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
  }

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
  }

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
  }

  /** Above the controls bar, under the Go live button where it fits (a sheet on phones). */
  placeBroadcast() {
    const pop = byId('broadcast-pop');
    const controls = document.querySelector('#screen-call .controls').getBoundingClientRect();
    pop.style.setProperty('--pop-bottom', `${Math.max(0, Math.round(window.innerHeight - controls.top + 8))}px`);
    const button = byId('btn-broadcast').getBoundingClientRect();
    const width = pop.offsetWidth;
    const left = Math.min(Math.max(12, button.left + button.width / 2 - width / 2), window.innerWidth - width - 12);
    pop.style.setProperty('--pop-left', `${Math.max(12, Math.round(left))}px`);
  }

  startBroadcast() {
    const s = this.session;
    if (!s?.isHost() || s.broadcastBusy || s.broadcasting) return;
    if (this.audience === 'public') {
      s.startBroadcast(true);
      return;
    }
    const select = byId('broadcast-school');
    s.startBroadcast(false, select.hidden ? null : select.value || null);
  }

  async confirmNewWatchLink() {
    const s = this.session;
    if (!s?.isHost() || !s.broadcasting || s.broadcastBusy) return;
    const ok = await confirmDialog({
      title: t('newWatchLinkTitle'),
      body: t('newWatchLinkBody'),
      ok: t('newLink'),
    });
    if (ok && this.session === s && s.broadcasting) s.newWatchLink();
  }

  async confirmEndBroadcast() {
    const s = this.session;
    if (!s?.isHost() || !s.broadcasting || s.broadcastBusy) return;
    const ok = await confirmDialog({
      title: t('endBroadcastTitle'),
      body: t('endBroadcastBody'),
      ok: t('endBroadcast'),
    });
    if (ok && this.session === s && s.broadcasting) s.stopBroadcast();
  }

  togglePanel(open = !this.panelOpen) {
    this.panelOpen = open;
    if (open) toasts.hide('waiting');
    this.renderNow();
    if (open) byId('panel-close').focus();
  }

  // ---- waiting room: the one who waits ------------------------------------------

  renderWaiting(s) {
    const title = s.title ?? s.call;
    byId('waiting-call-title').textContent = t('waitingTitle', { call: title });
    document.title = `${t('waitingBody')} — ${title}`;
    const track = s.local.camera && !s.muted.camera ? s.local.camera : null;
    this.setPreview(track);
    const avatar = byId('waiting-avatar');
    avatar.textContent = initials(s.name);
    avatar.style.setProperty('--hue', String(hueOf(s.name)));
    const micOn = !!s.local.microphone && !s.muted.microphone;
    setRoundButton(byId('waiting-btn-mic'), {
      on: micOn,
      icon: micOn ? 'mic' : 'micOff',
      label: t(micOn ? 'turnMicOff' : 'turnMicOn'),
    });
    setRoundButton(byId('waiting-btn-camera'), {
      on: !!track,
      icon: track ? 'camera' : 'cameraOff',
      label: t(track ? 'turnCameraOff' : 'turnCameraOn'),
    });
  }

  setPreview(track) {
    if (this.previewTrack === track) return;
    this.previewTrack = track;
    const video = byId('waiting-preview');
    video.srcObject = track ? new MediaStream([track]) : null;
    video.hidden = !track;
    byId('waiting-preview-off').hidden = !!track;
    if (track) video.play().catch(() => {});
  }

  // ---- waiting room: hosts --------------------------------------------------------

  /** Someone started waiting: with the panel closed, a toast says so (with Admit). */
  onWaitingListChanged(arrivals) {
    const s = this.session;
    if (!s) return;
    const list = s.waitingList;
    const showing = !!document.querySelector('[data-toast-id="waiting"]');
    if (!s.isHost() || !list.length || this.panelOpen) {
      toasts.hide('waiting');
      return;
    }
    if (!arrivals.length && !showing) return;
    const newest = list[list.length - 1];
    toasts.show({
      id: 'waiting',
      kind: 'info',
      icon: 'clock',
      timeout: 0,
      text: list.length === 1
        ? t('isWaiting', { name: newest.name })
        : t('areWaiting', { name: newest.name, count: list.length - 1 }),
      actions: [
        {
          label: t('admit'),
          ariaLabel: t('admitName', { name: newest.name }),
          testid: 'toast-btn-admit',
          primary: true,
          onClick: () => s.admit(newest.id),
        },
        list.length > 1
          ? { label: t('showWaiting'), testid: 'toast-btn-show-waiting', onClick: () => this.togglePanel(true) }
          : null,
      ],
    });
  }

  async confirmEndCall() {
    const s = this.session;
    if (!s?.isHost()) return;
    const ok = await confirmDialog({
      title: t('confirmEndTitle'),
      body: t('confirmEndBody', { call: s.call }),
      ok: t('confirmEnd'),
    });
    if (ok && this.session === s) s.endCall();
  }

  /** "New link": the old one stops working, so ask first (Cancel is focused). */
  async confirmNewLink() {
    const s = this.session;
    if (!s?.isHost()) return;
    const ok = await confirmDialog({
      title: t(s.inviteLink ? 'confirmNewLinkTitle' : 'confirmNewLinkTitleOff'),
      body: t(s.inviteLink ? 'confirmNewLinkBody' : 'confirmNewLinkBodyOff'),
      ok: t('newLink'),
    });
    if (ok && this.session === s) s.newLink();
  }

  async confirmRevokeLink() {
    const s = this.session;
    if (!s?.isHost() || !s.inviteLink) return;
    const ok = await confirmDialog({
      title: t('confirmRevokeTitle'),
      body: t('confirmRevokeBody'),
      ok: t('turnOffLink'),
    });
    if (ok && this.session === s) s.revokeLink();
  }

  async confirmRemove(peerId) {
    const s = this.session;
    const peer = s?.peers.get(peerId);
    if (!peer) return;
    const ok = await confirmDialog({
      title: t('confirmRemoveTitle', { name: peer.name }),
      body: t('confirmRemoveBody'),
      ok: t('confirmRemove'),
    });
    if (ok && this.session === s) {
      if (this.expanded === peerId) this.expanded = null;
      s.removeParticipant(peerId);
    }
  }

  renderPanel(s) {
    const count = s.peers.size + 1;
    const host = s.isHost();
    byId('panel').hidden = !this.panelOpen;
    byId('panel').classList.toggle('hosting', host);
    byId('panel-title').textContent = t('participantsTitle', { count });
    byId('host-tools').hidden = !host;
    if (host) this.renderHostTools(s);

    const rows = [{
      id: s.peerId ?? 'local',
      self: true,
      name: t('youSuffix', { name: s.name }),
      avatarName: s.name,
      role: s.role,
      locked: [...s.locked],
      micOff: !s.local.microphone || s.muted.microphone,
      cameraOff: !s.local.camera || s.muted.camera,
      presenting: !!s.local.screen,
    }];
    for (const peer of s.peers.values()) {
      const find = (source) => peer.tracks.find((tr) => tr.source === source);
      rows.push({
        id: peer.id,
        self: false,
        name: peer.name,
        avatarName: peer.name,
        role: peer.role,
        locked: peer.locked,
        micOff: !find('microphone') || !!find('microphone').muted,
        cameraOff: !find('camera') || !!find('camera').muted,
        presenting: !!find('screen'),
      });
    }
    if (this.expanded && !rows.some((row) => row.id === this.expanded && !row.self)) this.expanded = null;
    const list = byId('people-list');
    syncRows(list, this.rows, rows, (row) => this.createPersonRow(row.id), (node, row) => {
      this.updatePersonRow(node, row, s, host);
    });
  }

  renderInvite(s) {
    const url = s.inviteUrl();
    const box = byId('invite-link');
    if (box.value !== (url ?? '')) box.value = url ?? '';
    box.hidden = !url;
    byId('invite-off').hidden = !!url;
    byId('invite-hint').textContent = t(url ? 'inviteLinkHint' : 'inviteLinkOffHint');
    byId('btn-copy-link').hidden = !url;
    byId('btn-revoke-link').hidden = !url;
    // Turned off, "New link" is the one way to let people in again: make it the main button.
    const renew = byId('btn-new-link');
    renew.classList.toggle('btn-primary', !url);
    renew.classList.toggle('btn-secondary', !!url);
  }

  renderHostTools(s) {
    this.renderInvite(s);
    const on = s.waitingRoom;
    const sw = byId('switch-waiting-room');
    sw.setAttribute('aria-checked', String(on));
    byId('waiting-room-label').textContent = t(on ? 'waitingRoomOn' : 'waitingRoomOff');
    byId('waiting-room-hint').textContent = t(on ? 'waitingRoomHintOn' : 'waitingRoomHintOff');
    const list = s.waitingList;
    byId('waiting-section').hidden = !list.length;
    byId('waiting-title').textContent = t('waitingListTitle', { count: list.length });
    const hadFocus = [...this.waitRows.values()].some((row) => row.root.contains(document.activeElement));
    syncRows(byId('waiting-people'), this.waitRows, list, (p) => this.createWaitingRow(p.id), (row, p) => {
      row.data = p;
      row.name.textContent = p.name;
      row.avatar.textContent = initials(p.name);
      row.avatar.style.setProperty('--hue', String(hueOf(p.name)));
      row.admit.setAttribute('aria-label', t('admitName', { name: p.name }));
      row.admit.title = t('admitName', { name: p.name });
      row.deny.setAttribute('aria-label', t('denyName', { name: p.name }));
      row.deny.title = t('denyName', { name: p.name });
    });
    // The row with focus went (admitted, denied, left): keep the keyboard in the panel.
    if (hadFocus && !byId('waiting-people').contains(document.activeElement)) {
      const next = byId('waiting-people').querySelector('button') ?? sw;
      next.focus();
    }
  }

  createWaitingRow(id) {
    const row = { data: null };
    row.avatar = el('span', { class: 'avatar small', 'aria-hidden': 'true' });
    row.name = el('span', { class: 'person-name' });
    row.admit = el('button', {
      type: 'button',
      class: 'btn btn-small btn-primary',
      text: t('admit'),
      'data-testid': `btn-admit-${id}`,
      onclick: () => this.session?.admit(row.data.id),
    });
    row.deny = el('button', {
      type: 'button',
      class: 'btn btn-small btn-secondary',
      text: t('deny'),
      'data-testid': `btn-deny-${id}`,
      onclick: () => this.session?.deny(row.data.id),
    });
    row.root = el('li', { class: 'person waiting-person', 'data-testid': `waiting-${id}` }, [
      el('div', { class: 'person-main' }, [
        row.avatar, row.name, el('span', { class: 'waiting-buttons' }, [row.admit, row.deny]),
      ]),
    ]);
    return row;
  }

  createPersonRow(id) {
    const row = { data: null, stateKey: '' };
    row.avatar = el('span', { class: 'avatar small', 'aria-hidden': 'true' });
    row.name = el('span', { class: 'person-name' });
    row.badge = el('span', { class: 'role-badge', 'data-testid': `person-badge-${id}` });
    row.states = el('span', { class: 'person-state' });
    const act = (fn) => () => { if (row.data && this.session?.isHost()) fn(row.data, this.session); };
    row.mic = chip({
      testid: `btn-mute-${id}`,
      onclick: act((p, s) => {
        if (p.locked.includes('microphone')) s.unlockParticipant(p.id, 'microphone');
        else if (!p.micOff) s.muteParticipant(p.id, 'microphone', false);
      }),
    });
    row.camera = chip({
      testid: `btn-camera-off-${id}`,
      onclick: act((p, s) => {
        if (p.locked.includes('camera')) s.unlockParticipant(p.id, 'camera');
        else if (!p.cameraOff) s.muteParticipant(p.id, 'camera', false);
      }),
    });
    row.more = chip({
      testid: `btn-more-${id}`,
      className: 'chip chip-icon',
      onclick: () => {
        this.expanded = this.expanded === id ? null : id;
        this.renderNow();
      },
    });
    row.more.setAttribute('aria-controls', `person-menu-${id}`);
    const menuItem = (testid, onclick, className = 'menu-item') => el('button', {
      type: 'button', class: className, 'data-testid': testid, onclick,
    });
    row.lockMic = menuItem(`btn-lock-microphone-${id}`, act((p, s) => {
      if (p.locked.includes('microphone')) s.unlockParticipant(p.id, 'microphone');
      else s.muteParticipant(p.id, 'microphone', true);
    }));
    row.lockCamera = menuItem(`btn-lock-camera-${id}`, act((p, s) => {
      if (p.locked.includes('camera')) s.unlockParticipant(p.id, 'camera');
      else s.muteParticipant(p.id, 'camera', true);
    }));
    row.cohost = menuItem(`btn-cohost-${id}`, act((p, s) => {
      s.setRole(p.id, p.role === 'cohost' ? 'participant' : 'cohost');
    }));
    row.remove = menuItem(`btn-remove-${id}`, act((p) => this.confirmRemove(p.id)), 'menu-item danger');
    row.menu = el('div', { class: 'person-menu', id: `person-menu-${id}`, role: 'group' }, [
      row.lockMic, row.lockCamera, row.cohost, row.remove,
    ]);
    row.actions = el('div', { class: 'person-actions' }, [row.mic, row.camera]);
    row.root = el('li', { class: 'person', 'data-testid': `person-${id}` }, [
      el('div', { class: 'person-main' }, [
        row.avatar,
        el('span', { class: 'person-text' }, [row.name, row.badge]),
        row.states,
        row.more,
      ]),
      row.actions,
      row.menu,
    ]);
    return row;
  }

  updatePersonRow(row, data, s, host) {
    row.data = data;
    row.root.classList.toggle('speaking', data.id === s.activeSpeaker);
    row.root.dataset.role = data.role;
    row.name.textContent = data.name;
    row.avatar.textContent = initials(data.avatarName);
    row.avatar.style.setProperty('--hue', String(hueOf(data.avatarName)));
    const roleText = isHostRole(data.role) ? t(data.role) : '';
    row.badge.hidden = !roleText;
    row.badge.textContent = roleText;

    const micLocked = data.locked.includes('microphone');
    const cameraLocked = data.locked.includes('camera');
    const states = [
      data.presenting ? ['presenting', 'presenting', t('presenting', { name: data.avatarName })] : null,
      cameraLocked ? ['lock', 'locked', t('lockedCamera')] : null,
      data.cameraOff ? ['cameraOff', 'cameraOff', t('cameraOff')] : null,
      micLocked ? ['lock', 'locked', t('lockedMic')] : null,
      data.micOff ? ['micOff', 'micOff', t('micOff')] : null,
    ].filter(Boolean);
    const stateKey = states.map((st) => st[2]).join('|');
    if (row.stateKey !== stateKey) {
      row.stateKey = stateKey;
      row.states.replaceChildren(...states.map(([iconName, cls, text]) => el('span', {
        class: `state-icon state-${cls}`, role: 'img', 'aria-label': text, title: text, html: icon(iconName),
      })));
    }

    // Host controls: for everyone but ourselves; the call's host cannot be removed or demoted.
    const controls = host && !data.self;
    const isTheHost = data.role === 'host';
    row.actions.hidden = !controls;
    // The call's host keeps their role and cannot be removed: no "More" for them.
    row.more.hidden = !controls || isTheHost;
    if (!controls || isTheHost) {
      row.menu.hidden = true;
      row.root.classList.remove('expanded');
      if (this.expanded === data.id) this.expanded = null;
    }
    if (!controls) return;
    const name = data.name;
    setChip(row.mic, micLocked
      ? {
        icon: 'unlock',
        text: t('unlockMicShort'),
        label: t('unlockMicName', { name }),
        unlock: true,
        testid: `btn-unlock-microphone-${data.id}`,
      }
      : {
        icon: data.micOff ? 'micOff' : 'mic',
        text: t(data.micOff ? 'muted' : 'mute'),
        label: data.micOff ? `${name}: ${t('micOff')}` : t('muteName', { name }),
        disabled: data.micOff,
        testid: `btn-mute-${data.id}`,
      });
    setChip(row.camera, cameraLocked
      ? {
        icon: 'unlock',
        text: t('unlockCameraShort'),
        label: t('unlockCameraName', { name }),
        unlock: true,
        testid: `btn-unlock-camera-${data.id}`,
      }
      : {
        icon: data.cameraOff ? 'cameraOff' : 'camera',
        text: t(data.cameraOff ? 'cameraIsOff' : 'turnOffCamera'),
        label: data.cameraOff ? `${name}: ${t('cameraOff')}` : t('turnOffCameraName', { name }),
        disabled: data.cameraOff,
        testid: `btn-camera-off-${data.id}`,
      });
    if (isTheHost) return;
    const expanded = this.expanded === data.id;
    setChip(row.more, { icon: 'more', label: t('moreFor', { name }), text: '' });
    row.more.setAttribute('aria-expanded', String(expanded));
    row.menu.hidden = !expanded;
    row.root.classList.toggle('expanded', expanded);
    setMenuItem(row.lockMic, micLocked ? 'unlock' : 'lock', t(micLocked ? 'unlockMic' : 'keepMicOff'));
    setMenuItem(row.lockCamera, cameraLocked ? 'unlock' : 'lock', t(cameraLocked ? 'unlockCamera' : 'keepCameraOff'));
    setMenuItem(row.cohost, 'shield', t(data.role === 'cohost' ? 'removeCohost' : 'makeCohost'));
    setMenuItem(row.remove, 'userX', t('removeFromCall'));
  }

  /** One hidden <audio> per remote microphone; video elements stay muted. */
  syncAudio(s) {
    const wanted = new Map();
    for (const media of s.remote.values()) {
      const track = media.microphone?.track;
      if (track && track.readyState !== 'ended') wanted.set(track.id, track);
    }
    for (const [id, node] of this.audio) {
      if (wanted.has(id)) continue;
      node.srcObject = null;
      node.remove();
      this.audio.delete(id);
    }
    for (const [id, track] of wanted) {
      if (this.audio.has(id)) continue;
      const node = el('audio', { autoplay: true, 'data-track-id': id });
      node.srcObject = new MediaStream([track]);
      byId('audio-sink').append(node);
      this.audio.set(id, node);
      this.playAudio(node);
    }
  }

  playAudio(node) {
    node.play().catch((err) => {
      if (err?.name !== 'NotAllowedError') return;
      // Autoplay rules: sound needs a click when the page captures nothing.
      toasts.show({
        id: 'sound',
        kind: 'warning',
        text: t('soundBlocked'),
        timeout: 0,
        action: {
          label: t('enableSound'),
          testid: 'btn-enable-sound',
          onClick: () => { for (const a of this.audio.values()) a.play().catch(() => {}); },
        },
      });
    });
  }

  onKey(event) {
    if (!this.session || byId('screen-call').hidden || byId('confirm').open) return;
    if (event.key === 'Escape' && this.broadcastOpen) {
      this.closeBroadcast(true);
      return;
    }
    if (event.key === 'Escape' && this.panelOpen) {
      this.togglePanel(false);
      byId('btn-people').focus();
      return;
    }
    if (!(event.ctrlKey || event.metaKey) || event.altKey || event.shiftKey) return;
    const key = event.key.toLowerCase();
    if (key === 'd' || key === 'e') {
      event.preventDefault();
      this.session.toggleSource(key === 'd' ? 'microphone' : 'camera');
    }
  }
}

/** A received track worth showing: alive, and with frames arriving. */
function usable(track) {
  return track && track.readyState === 'live' && !track.muted ? track : null;
}

/** Make `container`'s children exactly `nodes`, in order, moving as few as possible. */
function placeInOrder(container, nodes) {
  nodes.forEach((node, i) => {
    const current = container.children[i];
    if (current !== node) container.insertBefore(node, current ?? null);
  });
  while (container.children.length > nodes.length) container.lastElementChild.remove();
}

/**
 * Keep `container`'s keyed rows in step with `items` (each with an `id`): rows are made
 * once and updated in place, so that a click or the keyboard focus survives the frequent
 * re-renders (every change of active speaker re-renders).
 */
function syncRows(container, rows, items, create, update) {
  const seen = new Set();
  for (const item of items) {
    let row = rows.get(item.id);
    if (!row) {
      row = create(item);
      rows.set(item.id, row);
    }
    update(row, item);
    seen.add(item.id);
  }
  for (const [id, row] of rows) {
    if (seen.has(id)) continue;
    row.root.remove();
    rows.delete(id);
  }
  placeInOrder(container, items.map((item) => rows.get(item.id).root));
}

function chip({ testid, onclick, className = 'chip' }) {
  const node = el('button', { type: 'button', class: className, 'data-testid': testid, onclick });
  node.append(el('span', { class: 'chip-icon-box' }), el('span', { class: 'chip-text' }));
  return node;
}

/** A small action button; "disabled" ones stay focusable (aria-disabled) and do nothing. */
function setChip(node, { icon: iconName, text, label, disabled = false, unlock = false, testid }) {
  node.classList.toggle('chip-unlock', unlock);
  const box = node.querySelector('.chip-icon-box');
  if (box.dataset.iconName !== iconName) {
    box.dataset.iconName = iconName;
    box.innerHTML = icon(iconName);
  }
  node.querySelector('.chip-text').textContent = text;
  node.setAttribute('aria-label', label);
  node.title = label;
  if (disabled) node.setAttribute('aria-disabled', 'true');
  else node.removeAttribute('aria-disabled');
  if (testid) node.setAttribute('data-testid', testid);
}

function setMenuItem(node, iconName, text) {
  if (node.dataset.iconName !== iconName || node.dataset.text !== text) {
    node.dataset.iconName = iconName;
    node.dataset.text = text;
    node.innerHTML = icon(iconName);
    node.append(el('span', { text }));
  }
}

function setRoundButton(node, { on, icon: iconName, label }) {
  node.classList.toggle('off', !on);
  node.setAttribute('aria-pressed', String(on));
  node.setAttribute('aria-label', label);
  node.title = label;
  if (node.dataset.iconName !== iconName) {
    node.dataset.iconName = iconName;
    node.innerHTML = icon(iconName);
  }
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

function setControl(id, {
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
