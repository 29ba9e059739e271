// The call screen: video tiles (grid, or a large stage with a strip beside it), the
// controls bar and the people panel. It reads a CallSession and never talks to the server.
//
// CallView holds the screen's state and wiring, the render loop and the sound; its other
// methods live by part of the screen in view/:
//   tiles.js      the video tiles, the stage and the grid's layout
//   controls.js   the controls bar, with the Record button
//   broadcast.js  the LIVE mark, the Go live button and its popover
//   waiting.js    the waiting room's screen, for the one who waits
//   people.js     the people panel: waiting list, invite link, host controls
//   widgets.js    small pieces they share: icons, buttons, the confirm dialog

import { t } from '../shared/strings.js';
import { byId, el, showScreen, toasts } from '../shared/ui.js';
import { placeInOrder } from './view/widgets.js';
import { tileMethods } from './view/tiles.js';
import { controlMethods } from './view/controls.js';
import { broadcastMethods } from './view/broadcast.js';
import { waitingMethods } from './view/waiting.js';
import { peopleMethods } from './view/people.js';

export { confirmDialog } from './view/widgets.js';

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

// The rest of CallView, by part of the screen: each part is a set of its methods, on the
// same object (`this`), whose state the constructor above lists.
Object.assign(
  CallView.prototype,
  tileMethods,
  controlMethods,
  broadcastMethods,
  waitingMethods,
  peopleMethods,
);
