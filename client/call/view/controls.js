// The controls bar: microphone, camera, screen share, people, leave, end call, and the
// Record button (with the REC mark everyone sees).

import { t } from '../../shared/strings.js';
import { byId } from '../../shared/ui.js';
import { confirmDialog, setControl } from './widgets.js';

export const controlMethods = {
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
  },

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
  },

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
  },
};
