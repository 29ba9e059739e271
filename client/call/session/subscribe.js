// Subscribing: the server's `subscribe_offer` answered on the subscribe connection, and
// each received track mapped to its peer and source.

import { StaleError } from './common.js';
import { waitForIceGathering } from './connections.js';

export const subscribeMethods = {
  ensureSubPc() {
    if (!this.subPc) {
      const pc = new RTCPeerConnection(this.rtcConfig());
      pc.addEventListener('connectionstatechange', () => this.onPcState(pc));
      pc.addEventListener('track', (event) => {
        if (pc !== this.subPc) return;
        const mid = event.transceiver?.mid;
        if (mid != null && event.streams[0]) this.msidOfMid.set(mid, event.streams[0].id);
        this.mapRemoteTracks();
      });
      this.subPc = pc;
    }
    return this.subPc;
  },

  async onSubscribeOffer(msg) {
    const pc = this.subPc;
    if (!pc || !this.connected) return;
    const live = () => { if (pc !== this.subPc) throw new StaleError('stale'); };
    const previous = this.subTracks;
    // Set before setRemoteDescription: its track events look mids up in this map.
    this.subTracks = new Map((msg.tracks ?? []).map((tr) => [String(tr.mid), tr]));
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp: msg.sdp });
    } catch (err) {
      this.subTracks = previous;
      throw err;
    }
    live();
    await pc.setLocalDescription(await pc.createAnswer());
    live();
    await waitForIceGathering(pc);
    live();
    this.send({ type: 'subscribe_answer', sdp: pc.localDescription.sdp });
    this.mapRemoteTracks();
  },

  /**
   * Which received track belongs to whom: the offer's `tracks` list maps each m-line (mid)
   * to a peer and source. A receiver keeps one track object for its whole life, so an
   * m-line the server reuses for someone else simply maps anew here.
   */
  mapRemoteTracks() {
    const pc = this.subPc;
    const remote = new Map();
    if (pc) {
      for (const tx of pc.getTransceivers()) {
        if (tx.mid == null || tx.stopped) continue;
        let info = this.subTracks.get(tx.mid);
        if (!info && this.msidOfMid.has(tx.mid) && tx.currentDirection !== 'inactive') {
          // Not in the list (should not happen): fall back on msid "<peer_id> <track_id>".
          const kind = tx.receiver.track.kind;
          info = {
            peer_id: this.msidOfMid.get(tx.mid),
            kind,
            source: kind === 'audio' ? 'microphone' : 'camera',
            track_id: tx.receiver.track.id,
          };
        }
        if (!info) continue;
        const peerId = String(info.peer_id);
        const media = remote.get(peerId) ?? {};
        if (media[info.source]) continue;
        media[info.source] = {
          track: tx.receiver.track,
          mid: tx.mid,
          trackId: info.track_id,
          kind: info.kind,
        };
        remote.set(peerId, media);
        this.watchTrack(tx.receiver.track);
      }
    }
    this.remote = remote;
    this.view.render();
  },

  /** Remote tracks are muted until their first packets: show the video when they come. */
  watchTrack(track) {
    if (this.watchedTracks.has(track)) return;
    this.watchedTracks.add(track);
    for (const type of ['mute', 'unmute', 'ended']) track.addEventListener(type, () => this.view.render());
  },
};
