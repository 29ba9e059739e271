// The call screen: video tiles (grid, or a large stage with a strip beside it), the
// controls bar and the people panel. It reads a CallSession and never talks to the server.

import { t } from './strings.js';
import { icon } from './icons.js';
import { byId, el, hueOf, initials, showScreen, toasts } from './ui.js';

const GAP_PX = 10;
// Below this width a tile's name and video are too small; the grid scrolls instead.
const MIN_TILE_W = 150;

export class CallView {
  /** `onLeft(session)` is called once the session has left the call. */
  constructor({ onLeft }) {
    this.session = null;
    this.onLeftCallback = onLeft;
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
    document.addEventListener('keydown', (event) => this.onKey(event));
  }

  attach(session) {
    this.clear();
    this.session = session;
    this.pinned = null;
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
  }

  onLeft() {
    const session = this.session;
    this.clear();
    this.session = null;
    this.panelOpen = false;
    toasts.hide('sound');
    this.onLeftCallback(session);
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
    const pin = el('button', {
      type: 'button',
      class: 'btn btn-icon tile-pin',
      onclick: () => this.togglePin(item.key),
    });
    const root = el('div', { class: 'tile', role: 'group' }, [
      video,
      el('div', { class: 'avatar-wrap' }, avatar),
      el('div', { class: 'tile-label' }, [mic, name]),
      pin,
    ]);
    const tile = { root, video, avatar, mic, name, pin, track: null, pinIcon: null };
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
    tile.avatar.textContent = initials(item.name);
    tile.avatar.style.setProperty('--hue', String(hueOf(item.name)));
    root.setAttribute('aria-label', [
      label,
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
    setControl('btn-mic', {
      pressed: micOn,
      icon: micOn ? 'mic' : 'micOff',
      off: !micOn,
      label: t('microphone'),
      title: t(micOn ? 'turnMicOff' : 'turnMicOn'),
    });
    const cameraOn = !!s.local.camera && !s.muted.camera;
    setControl('btn-camera', {
      pressed: cameraOn,
      icon: cameraOn ? 'camera' : 'cameraOff',
      off: !cameraOn,
      label: t('camera'),
      title: t(cameraOn ? 'turnCameraOff' : 'turnCameraOn'),
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
    setControl('btn-people', {
      pressed: this.panelOpen,
      icon: 'people',
      label: `${t('participants')} ${count}`,
      title: t('participantsTitle', { count }),
    });
    setControl('btn-leave', { icon: 'leave', label: t('leave'), title: t('leaveTitle') });
  }

  togglePanel(open = !this.panelOpen) {
    this.panelOpen = open;
    this.renderNow();
    if (open) byId('panel-close').focus();
  }

  renderPanel(s) {
    const count = s.peers.size + 1;
    byId('panel').hidden = !this.panelOpen;
    byId('panel-title').textContent = t('participantsTitle', { count });
    const rows = [{
      id: s.peerId ?? 'local',
      name: t('youSuffix', { name: s.name }),
      avatarName: s.name,
      micOff: !s.local.microphone || s.muted.microphone,
      cameraOff: !s.local.camera || s.muted.camera,
      presenting: !!s.local.screen,
    }];
    for (const peer of s.peers.values()) {
      const find = (source) => peer.tracks.find((tr) => tr.source === source);
      rows.push({
        id: peer.id,
        name: peer.name,
        avatarName: peer.name,
        micOff: !find('microphone') || !!find('microphone').muted,
        cameraOff: !find('camera') || !!find('camera').muted,
        presenting: !!find('screen'),
      });
    }
    const list = byId('people-list');
    list.replaceChildren(...rows.map((row) => {
      const states = [
        row.presenting ? ['presenting', t('presenting', { name: row.avatarName })] : null,
        row.cameraOff ? ['cameraOff', t('cameraOff')] : null,
        row.micOff ? ['micOff', t('micOff')] : null,
      ].filter(Boolean);
      const avatar = el('span', { class: 'avatar small', 'aria-hidden': 'true', text: initials(row.avatarName) });
      avatar.style.setProperty('--hue', String(hueOf(row.avatarName)));
      return el('li', {
        class: row.id === s.activeSpeaker ? 'person speaking' : 'person',
        'data-testid': `person-${row.id}`,
      }, [
        avatar,
        el('span', { class: 'person-name', text: row.name }),
        el('span', { class: 'person-state' }, states.map(([name, text]) => el('span', {
          class: `state-icon state-${name}`, role: 'img', 'aria-label': text, title: text, html: icon(name),
        }))),
      ]);
    }));
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
    if (!this.session || byId('screen-call').hidden) return;
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

function setControl(id, { pressed, icon: iconName, off = false, active = false, label, text, title }) {
  const button = byId(id);
  if (pressed !== undefined) button.setAttribute('aria-pressed', String(pressed));
  button.classList.toggle('off', off);
  button.classList.toggle('active', active);
  button.setAttribute('aria-label', label);
  button.title = title;
  const iconBox = button.querySelector('.ctrl-icon');
  if (iconBox.dataset.iconName !== iconName) {
    iconBox.dataset.iconName = iconName;
    iconBox.innerHTML = icon(iconName);
  }
  if (text !== undefined) button.querySelector('.ctrl-label').textContent = text;
}
