// Our own media: the microphone and camera at the start, a device added later, mute and
// unmute, and sharing the screen.

import { t } from '../../shared/strings.js';
import { toasts } from '../../shared/ui.js';
import { SOURCES } from './common.js';

// Enough for a face in a grid; without simulcast every viewer gets what we send.
const CAMERA_CONSTRAINTS = {
  width: { ideal: 960 },
  height: { ideal: 540 },
  frameRate: { ideal: 24, max: 30 },
};
const SCREEN_CONSTRAINTS = { frameRate: { ideal: 15, max: 30 } };

function deviceErrorText(err, source) {
  const device = t(source === 'microphone' ? 'deviceNameMicrophone' : 'deviceNameCamera');
  if (err?.name === 'NotFoundError' || err?.name === 'OverconstrainedError') {
    return t('deviceMissing', { device });
  }
  if (err?.name === 'NotReadableError') return t('deviceBusy', { device });
  return t('deviceDenied', { device });
}

export const mediaMethods = {
  async acquireInitialMedia() {
    if (!navigator.mediaDevices?.getUserMedia) {
      toasts.show({
        kind: 'warning',
        text: t(window.isSecureContext ? 'noDevicesAtAll' : 'needsHttps'),
        timeout: 12000,
      });
      this.mediaReady = true;
      return;
    }
    const gum = (constraints) => navigator.mediaDevices.getUserMedia(constraints);
    let tracks = [];
    try {
      tracks = (await gum({ audio: true, video: CAMERA_CONSTRAINTS })).getTracks();
    } catch {
      // One missing or refused device must not cost the other: ask for each alone.
      for (const constraints of [{ audio: true }, { video: CAMERA_CONSTRAINTS }]) {
        try {
          tracks.push(...(await gum(constraints)).getTracks());
        } catch {
          // Reported below by what is missing.
        }
      }
    }
    if (this.leaving) {
      for (const track of tracks) track.stop();
      return;
    }
    for (const track of tracks) {
      this.setLocalTrack(track.kind === 'audio' ? 'microphone' : 'camera', track);
    }
    const key = !this.local.microphone && !this.local.camera ? 'noDevicesAtAll'
      : !this.local.microphone ? 'noMicrophone'
        : !this.local.camera ? 'noCamera' : null;
    if (key) toasts.show({ kind: 'warning', text: t(key), timeout: 12000 });
    this.mediaReady = true;
    this.view.render();
  },

  setLocalTrack(source, track) {
    this.local[source] = track;
    if (source !== 'screen') this.localStream.addTrack(track);
    // Fires when the device goes away or the browser's own "Stop sharing" is used.
    track.addEventListener('ended', () => this.onLocalTrackEnded(source, track));
  },

  onLocalTrackEnded(source, track) {
    if (this.local[source] !== track) return;
    if (source === 'screen') {
      this.stopScreenShare();
      return;
    }
    this.local[source] = null;
    this.localStream.removeTrack(track);
    this.view.render();
    this.requestPublish();
  },

  /** Microphone and camera buttons: mute/unmute, or ask for the device if we have none. */
  async toggleSource(source) {
    if (this.locked.has(source)) {
      toasts.show({ id: `locked-${source}`, kind: 'warning', text: t('hostTurnedOff'), timeout: 5000 });
      return;
    }
    const track = this.local[source];
    if (!track) {
      await this.addDevice(source);
      return;
    }
    this.muted[source] = !this.muted[source];
    track.enabled = !this.muted[source];
    this.syncMute(source);
    this.view.render();
  },

  async addDevice(source) {
    if (!navigator.mediaDevices?.getUserMedia) {
      toasts.show({ kind: 'warning', text: t(window.isSecureContext ? 'noDevicesAtAll' : 'needsHttps') });
      return;
    }
    const constraints = source === 'microphone' ? { audio: true } : { video: CAMERA_CONSTRAINTS };
    let track;
    try {
      [track] = (await navigator.mediaDevices.getUserMedia(constraints)).getTracks();
    } catch (err) {
      toasts.show({ kind: 'warning', text: deviceErrorText(err, source), timeout: 10000 });
      return;
    }
    if (this.leaving || this.local[source]) {
      track.stop();
      return;
    }
    this.muted[source] = false;
    this.setLocalTrack(source, track);
    this.view.render();
    this.requestPublish();
  },

  async toggleScreen() {
    if (this.local.screen) {
      this.stopScreenShare();
      return;
    }
    if (!navigator.mediaDevices?.getDisplayMedia) {
      toasts.show({ kind: 'warning', text: t('screenUnsupported') });
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia({ video: SCREEN_CONSTRAINTS, audio: false });
    } catch (err) {
      // NotAllowedError is also what a press on "Cancel" gives: nothing to report then.
      if (err?.name !== 'NotAllowedError') toasts.show({ kind: 'warning', text: t('screenFailed') });
      return;
    }
    const [track] = stream.getVideoTracks();
    if (!track || this.leaving || this.local.screen) {
      for (const tr of stream.getTracks()) tr.stop();
      return;
    }
    // Text and slides: keep the resolution, let the frame rate drop under congestion.
    if ('contentHint' in track) track.contentHint = 'detail';
    this.screenStream = stream;
    this.setLocalTrack('screen', track);
    this.view.onScreenShareStarted?.();
    this.view.render();
    this.requestPublish();
  },

  stopScreenShare() {
    const track = this.local.screen;
    if (!track) return;
    this.local.screen = null;
    this.screenStream = null;
    track.stop();
    this.view.render();
    this.requestPublish();
  },

  hasLocalMedia() {
    return SOURCES.some((source) => this.local[source]);
  },
};
