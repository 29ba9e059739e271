// The waiting room's screen, for the one who waits: the call's name, a camera preview,
// microphone and camera buttons.

import { t } from '../../shared/strings.js';
import { icon } from '../../shared/icons.js';
import { byId, hueOf, initials } from '../../shared/ui.js';

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

export const waitingMethods = {
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
  },

  setPreview(track) {
    if (this.previewTrack === track) return;
    this.previewTrack = track;
    const video = byId('waiting-preview');
    video.srcObject = track ? new MediaStream([track]) : null;
    video.hidden = !track;
    byId('waiting-preview-off').hidden = !!track;
    if (track) video.play().catch(() => {});
  },
};
