// Publishing: our tracks on the publish connection, the offer sent as `publish` and its
// `publish_answer`, and our mute state told to the server.

import { t } from '../../shared/strings.js';
import { toasts } from '../../shared/ui.js';
import { SOURCES, StaleError } from './common.js';
import { waitForIceGathering } from './connections.js';

const ANSWER_TIMEOUT_MS = 20000;

export const publishMethods = {
  ensurePubPc() {
    if (!this.pubPc) {
      const pc = new RTCPeerConnection(this.rtcConfig());
      pc.addEventListener('connectionstatechange', () => this.onPcState(pc));
      this.pubPc = pc;
    }
    return this.pubPc;
  },

  failPending(err) {
    const pending = this.pendingAnswer;
    this.pendingAnswer = null;
    pending?.reject(err);
  },

  /** Renegotiate the publish connection; calls made meanwhile fold into one more round. */
  async requestPublish() {
    this.publishAgain = true;
    if (this.publishBusy) return;
    this.publishBusy = true;
    try {
      while (this.publishAgain && this.connected) {
        this.publishAgain = false;
        try {
          await this.publishOnce();
        } catch (err) {
          if (!(err instanceof StaleError) && this.connected) {
            toasts.show({ kind: 'error', text: t('publishFailed', { message: err.message }), timeout: 12000 });
          }
        }
      }
    } finally {
      this.publishBusy = false;
    }
  },

  async publishOnce() {
    const pc = this.ensurePubPc();
    const live = () => { if (pc !== this.pubPc || !this.connected) throw new StaleError('stale'); };
    let sending = false;
    for (const source of SOURCES) {
      const track = this.local[source];
      let tx = this.pubTx[source];
      if (track) {
        sending = true;
        const stream = source === 'screen' ? this.screenStream : this.localStream;
        if (!tx) {
          tx = pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
          this.pubTx[source] = tx;
        } else {
          // The same m-line is reused when a source comes back (a new screen share).
          if (tx.sender.track !== track) await tx.sender.replaceTrack(track);
          tx.sender.setStreams?.(stream);
          if (tx.direction !== 'sendonly') tx.direction = 'sendonly';
        }
      } else if (tx && tx.direction !== 'inactive') {
        await tx.sender.replaceTrack(null);
        tx.direction = 'inactive';
      }
      live();
    }
    if (!sending && this.published.length === 0) return; // nothing to send or take back

    await pc.setLocalDescription(await pc.createOffer());
    live();
    await waitForIceGathering(pc);
    live();
    const tracks = SOURCES
      .filter((source) => this.local[source] && this.pubTx[source]?.mid != null)
      .map((source) => ({ mid: this.pubTx[source].mid, source }));
    const answered = new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.pendingAnswer?.resolve === resolveOnce) this.pendingAnswer = null;
        reject(new Error(t('timeout')));
      }, ANSWER_TIMEOUT_MS);
      const resolveOnce = (m) => { clearTimeout(timer); resolve(m); };
      this.pendingAnswer = { resolve: resolveOnce, reject: (e) => { clearTimeout(timer); reject(e); } };
    });
    if (!this.send({ type: 'publish', sdp: pc.localDescription.sdp, tracks })) {
      this.failPending(new StaleError('not connected'));
    }
    let answer;
    try {
      answer = await answered;
    } catch (err) {
      // Back to stable so that the next attempt can make a fresh offer.
      if (pc === this.pubPc && pc.signalingState === 'have-local-offer') {
        await pc.setLocalDescription({ type: 'rollback' }).catch(() => {});
      }
      throw err;
    }
    live();
    await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
    live();
    this.published = tracks;
    // toldMuted is kept for unpublished sources: the server keeps a mute across republishes.
    for (const { source } of tracks) this.syncMute(source);
    this.view.render();
  },

  /** Tell the server a source's mute state, once it is published and only on change. */
  syncMute(source) {
    if (!this.connected || !(source in this.muted)) return;
    if (!this.published.some((tr) => tr.source === source)) return;
    const muted = this.muted[source];
    if ((this.toldMuted[source] ?? false) === muted) return;
    if (this.send({ type: 'mute', source, muted })) {
      this.toldMuted[source] = muted;
      this.pendingUnmute = muted ? null : source;
    }
  },
};
