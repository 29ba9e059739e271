// The two peer connections (publish: we offer; subscribe: the server offers): their
// configuration, ICE gathering, closing them, and a failed one dropping the socket to rejoin.

import { t } from '../../shared/strings.js';
import { toasts } from '../../shared/ui.js';

const ICE_GATHER_TIMEOUT_MS = 5000;

const MAX_MEDIA_FAILURES = 3;

/** Resolve once ICE gathering is complete (offers and answers carry every candidate). */
export function waitForIceGathering(pc) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    };
    const check = () => { if (pc.iceGatheringState === 'complete') done(); };
    // Send what we have rather than hang if some interface never finishes gathering.
    const timer = setTimeout(done, ICE_GATHER_TIMEOUT_MS);
    pc.addEventListener('icegatheringstatechange', check);
  });
}

export const connectionMethods = {
  rtcConfig() {
    // ICE servers only from the server's configuration: none by default, never a public one.
    return { iceServers: this.iceServers, bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' };
  },

  closePeerConnections() {
    for (const pc of [this.pubPc, this.subPc]) pc?.close();
    this.pubPc = null;
    this.subPc = null;
    this.pubTx = {};
    this.published = [];
    this.toldMuted = {};
    this.subTracks = new Map();
    this.msidOfMid = new Map();
    this.remote = new Map();
    this.subChain = Promise.resolve();
  },

  onPcState(pc) {
    if (pc !== this.pubPc && pc !== this.subPc) return;
    if (pc.connectionState === 'connected') this.mediaFailures = 0;
    if (pc.connectionState !== 'failed' || !this.connected) return;
    // Rejoining builds both connections afresh; give up after a few in a row so a network
    // that never lets media through does not loop for ever.
    this.mediaFailures += 1;
    if (this.mediaFailures > MAX_MEDIA_FAILURES) return;
    toasts.show({ kind: 'warning', text: t('mediaFailed') });
    this.dropSocket();
  },
};
