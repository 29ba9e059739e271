// Recording: hosts start and stop it (one request at a time), everyone is told.

import { t } from '../../shared/strings.js';
import { toasts } from '../../shared/ui.js';

export const recordingMethods = {
  /** Hosts: start or stop recording. One request at a time; `recording` answers it. */
  startRecording() {
    return this.sendRecordingRequest('start_recording');
  },

  stopRecording() {
    return this.sendRecordingRequest('stop_recording');
  },

  sendRecordingRequest(type) {
    if (this.recordingBusy || !this.isHost()) return false;
    if (!this.send({ type })) return false;
    this.setRecordingBusy(true);
    return true;
  },

  setRecordingBusy(busy) {
    clearTimeout(this.recordingTimer);
    this.recordingTimer = null;
    this.recordingBusy = busy;
    if (busy) {
      // no answer at all (a lost socket reconnects with `joined`): let the host try again
      this.recordingTimer = setTimeout(() => {
        if (!this.recordingBusy) return;
        this.recordingBusy = false;
        toasts.show({ id: 'recording', kind: 'warning', text: t('recordNoAnswer'), timeout: 6000 });
        this.view.render();
      }, 20000);
    }
    this.view.render();
  },

  /** Recording started or stopped (by a host, by HTTP, or with the call's end). */
  onRecording(msg) {
    const on = !!msg.on;
    const by = msg.by != null ? String(msg.by) : null;
    const changed = on !== this.recording;
    this.recording = on;
    this.recordingBy = on ? by : null;
    this.setRecordingBusy(false);
    if (!changed) return;
    let text;
    if (by && by === this.peerId) text = t(on ? 'recordingStartedYou' : 'recordingStoppedYou');
    else if (by && this.peers.has(by)) {
      text = t(on ? 'recordingStartedBy' : 'recordingStoppedBy', { name: this.peers.get(by).name });
    } else text = t(on ? 'recordingStarted' : 'recordingStopped');
    toasts.show({
      id: 'recording', kind: on ? 'warning' : 'info', icon: on ? 'record' : 'recordStop', text, timeout: 5000,
    });
  },
};
