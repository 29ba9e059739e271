// The video tiles: what to show (our camera and screen, each peer's), the large stage
// for a pinned tile or a screen share, one tile's look, and the grid's layout.

import { t } from '../../shared/strings.js';
import { icon } from '../../shared/icons.js';
import { el, hueOf, initials } from '../../shared/ui.js';
import { isHostRole } from '../session.js';

const GAP_PX = 10;
// Below this width a tile's name and video are too small; the grid scrolls instead.
const MIN_TILE_W = 150;

/** A received track worth showing: alive, and with frames arriving. */
function usable(track) {
  return track && track.readyState === 'live' && !track.muted ? track : null;
}

export const tileMethods = {
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
  },

  /** The large spot: a pinned tile, else someone's screen (others' before our own). */
  pickStage(items) {
    if (this.pinned && items.some((item) => item.key === this.pinned)) return this.pinned;
    this.pinned = null;
    const screens = items.filter((item) => item.source === 'screen');
    return (screens.find((item) => !item.local) ?? screens[0])?.key ?? null;
  },

  togglePin(key) {
    this.pinned = this.pinned === key ? null : key;
    this.render();
  },

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
  },

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
  },

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
  },
};
