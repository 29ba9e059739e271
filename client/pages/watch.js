// The watch page of a broadcast (/watch/{token}): the call as one picture, for viewers
// who take no part in it.
//
// WebRTC (WHEP) when the browser can and the server has room; HLS otherwise (the
// browser's own player where it has one, hls.js from /vendor/hls.js elsewhere). `?mode=whep`
// or `?mode=hls` forces one. GET /api/watch/{token} is asked every few seconds for the
// viewer count and whether the broadcast is still live (404: it ended, or its link was
// replaced).
//
// For tests: window.partaWatch = {mode, live, ended, framesDecoded()}.

const POLL_MS = 3000; // how often the page asks for the viewer count and whether it is live
const WHEP_MEDIA_MS = 8000; // no picture over WebRTC in this long: HLS instead
const ICE_GATHERING_MS = 4000; // WHEP without trickle: wait this long at most for candidates
const HLS_RETRY_MS = 2000; // the playlist may not be there yet just after the start
const HLS_MIME = 'application/vnd.apple.mpegurl';

const TEXT = {
  connecting: 'Connecting…',
  startingHls: 'Loading the broadcast…',
  waitingHls: 'Waiting for the broadcast to start…',
  notFound: 'This broadcast has ended, or its link was replaced.',
  noPlayer: 'This browser cannot play the broadcast: no WebRTC and no HLS player.',
  noHlsJs: 'The HLS player (hls.js) is not installed on this server, and this browser has no HLS player of its own.',
  whepFailed: 'Could not watch over WebRTC: {why}',
  hlsFailed: 'Could not play the broadcast: {why}',
  loginNeeded: 'This broadcast is for a school’s members: log in to watch it.',
  watching: (n) => (n === 1 ? '1 watching' : `${n} watching`),
};

const $ = (id) => document.getElementById(id);
const video = $('watch-video');
const player = $('player');
const params = new URLSearchParams(location.search);
const forced = ['whep', 'hls'].includes(params.get('mode')) ? params.get('mode') : null;
const token = decodeURIComponent(location.pathname.split('/').filter(Boolean)[1] || '');
const viewerId = randomId(); // kept for the page's life: the server counts HLS viewers by it

const state = {
  mode: null, // 'whep' | 'hls' once chosen
  live: false,
  ended: false,
  info: null,
  pc: null,
  whepLocation: null,
  statsFrames: 0, // framesDecoded from the peer connection's stats (WHEP)
  statsAudio: 0, // audio samples decoded from what arrived (WHEP), concealment aside
  shownFrames: 0, // requestVideoFrameCallback count
  hls: null,
  hlsTimer: null,
  player: null, // 'native' | 'hls.js' for HLS
  stalls: 0, // times the picture stopped to wait for data
  stallTimer: null,
  pollTimer: null,
  statsTimer: null,
};

window.partaWatch = {
  get mode() { return state.mode; },
  get live() { return state.live; },
  get ended() { return state.ended; },
  get player() { return state.player; },
  get stalls() { return state.stalls; },
  framesDecoded,
  audioHeard,
  latency,
};

function randomId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function fill(text, vars) {
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

/** Frames decoded so far on the path in use. */
function framesDecoded() {
  let quality = 0;
  try {
    quality = video.getVideoPlaybackQuality?.().totalVideoFrames ?? 0;
  } catch {
    quality = 0;
  }
  return Math.max(quality, state.shownFrames, state.mode === 'whep' ? state.statsFrames : 0);
}

/** HLS: seconds behind the live edge (null over WebRTC, or when not known yet). */
// How much sound has come through: audio samples decoded from received packets
// (WebRTC), or bytes of audio the media element decoded (HLS; Chromium's counter).
function audioHeard() {
  if (state.mode === 'whep') return state.statsAudio;
  const video = document.getElementById('watch-video');
  return (video && video.webkitAudioDecodedByteCount) || 0;
}

function latency() {
  if (state.mode !== 'hls') return null;
  if (state.hls) return Number.isFinite(state.hls.latency) ? state.hls.latency : null;
  const ranges = video.seekable;
  if (!ranges || ranges.length === 0) return null;
  return Math.max(0, ranges.end(ranges.length - 1) - video.currentTime);
}

function countShownFrames() {
  if (!('requestVideoFrameCallback' in HTMLVideoElement.prototype)) return;
  const next = () => {
    state.shownFrames += 1;
    video.requestVideoFrameCallback(next);
  };
  video.requestVideoFrameCallback(next);
}

// ---- what the page shows -----------------------------------------------------------------

function status(text) {
  $('player-status-text').textContent = text || '';
  $('player-status').hidden = !text;
}

function notice(text) {
  $('watch-notice').textContent = text || '';
  $('watch-notice').hidden = !text;
}

function setMode(mode) {
  state.mode = mode;
  player.dataset.mode = mode;
  const label = $('watch-mode');
  label.textContent = mode === 'whep' ? 'WebRTC' : 'HLS';
  label.title = mode === 'whep' ? 'Watching over WebRTC: lowest delay' : 'Watching over HLS';
  label.hidden = false;
}

function render(info) {
  state.info = info;
  const title = info.title || 'Live broadcast';
  $('watch-title').textContent = title;
  document.title = `${title} - parta`;
  state.live = !!info.live;
  $('watch-live').hidden = !state.live;
  // a cluster node that relays another's broadcast does not know the count: say nothing
  if (info.viewers) {
    const viewers = (info.viewers.webrtc ?? 0) + (info.viewers.hls ?? 0);
    $('watch-viewers').textContent = TEXT.watching(viewers);
  }
  $('watch-viewers').hidden = !info.viewers;
}

function showPlaying() {
  status('');
  player.dataset.state = 'playing';
  $('btn-play').hidden = true;
  $('btn-unmute').hidden = !video.muted;
}

// Sound if the browser allows it; muted if only that is allowed (with Unmute); a
// click-to-play overlay when even that is refused.
async function play() {
  if (state.ended) return;
  try {
    await video.play();
    return showPlaying();
  } catch (err) {
    if (err.name === 'AbortError') return; // a new source came: its own play() follows
    if (!video.muted) {
      video.muted = true;
      try {
        await video.play();
        return showPlaying();
      } catch (err2) {
        if (err2.name === 'AbortError') return;
      }
    }
  }
  $('btn-play').hidden = false;
  $('btn-unmute').hidden = true;
}

$('btn-play').addEventListener('click', () => {
  video.muted = false;
  $('btn-play').hidden = true;
  play();
});
$('btn-unmute').addEventListener('click', () => {
  video.muted = false;
  $('btn-unmute').hidden = true;
  video.play().catch(() => {
    video.muted = true;
    $('btn-unmute').hidden = false;
  });
});
video.addEventListener('volumechange', () => {
  if (player.dataset.state === 'playing') $('btn-unmute').hidden = !video.muted;
});
video.addEventListener('playing', () => {
  clearTimeout(state.stallTimer);
  if (player.dataset.state !== 'playing') showPlaying();
  else status('');
});
// A short wait for data is not worth a spinner over the picture; a long one is.
video.addEventListener('waiting', () => {
  if (state.ended || player.dataset.state !== 'playing') return;
  state.stalls += 1;
  clearTimeout(state.stallTimer);
  state.stallTimer = setTimeout(() => {
    if (!state.ended && video.readyState < 3) status(TEXT.startingHls);
  }, 1500);
});

// ---- WebRTC (WHEP) -----------------------------------------------------------------------

function iceGathered(pc, ms) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState !== 'complete') return;
      pc.removeEventListener('icegatheringstatechange', done);
      resolve();
    };
    pc.addEventListener('icegatheringstatechange', done);
    setTimeout(resolve, ms); // whatever candidates there are by then
  });
}

async function readStats() {
  const pc = state.pc;
  if (!pc) return;
  try {
    const report = await pc.getStats();
    report.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        state.statsFrames = Math.max(state.statsFrames, s.framesDecoded || 0);
      }
      if (s.type === 'inbound-rtp' && s.kind === 'audio') {
        const decoded = (s.totalSamplesReceived || 0) - (s.concealedSamples || 0);
        state.statsAudio = Math.max(state.statsAudio, decoded);
      }
    });
  } catch {
    // closed meanwhile
  }
}

async function startWhep(info) {
  setMode('whep');
  status(TEXT.connecting);
  const pc = new RTCPeerConnection({ iceServers: [] });
  state.pc = pc;
  state.statsFrames = 0;
  pc.addTransceiver('audio', { direction: 'recvonly' });
  pc.addTransceiver('video', { direction: 'recvonly' });
  const stream = new MediaStream();
  pc.addEventListener('track', (event) => {
    stream.addTrack(event.track);
    if (video.srcObject !== stream) video.srcObject = stream;
    play();
  });
  await pc.setLocalDescription(await pc.createOffer());
  await iceGathered(pc, ICE_GATHERING_MS);
  const response = await fetch(info.whep, {
    method: 'POST',
    headers: { 'Content-Type': 'application/sdp' },
    body: pc.localDescription.sdp,
  });
  if (response.status !== 201) {
    let why = `the server answered ${response.status}`;
    if (response.status === 503) why = 'the server has no room for more WebRTC viewers';
    throw new Error(why);
  }
  const where = response.headers.get('Location');
  if (where) state.whepLocation = new URL(where, location.href).href;
  await pc.setRemoteDescription({ type: 'answer', sdp: await response.text() });
  pc.addEventListener('connectionstatechange', () => {
    if (pc === state.pc && pc.connectionState === 'failed' && !state.ended) {
      whepFailed(new Error('the connection failed'));
    }
  });
  state.statsTimer = setInterval(readStats, 1000);
  const deadline = performance.now() + WHEP_MEDIA_MS;
  while (framesDecoded() === 0) {
    if (state.ended || pc !== state.pc) return;
    if (performance.now() > deadline) throw new Error('no picture arrived');
    await readStats();
    await new Promise((r) => setTimeout(r, 250));
  }
}

function stopWhep() {
  clearInterval(state.statsTimer);
  state.statsTimer = null;
  if (state.pc) {
    state.pc.close();
    state.pc = null;
  }
  if (state.whepLocation) {
    // the Location's last part is the session's secret: it is all the DELETE needs
    fetch(state.whepLocation, { method: 'DELETE', keepalive: true }).catch(() => {});
    state.whepLocation = null;
  }
  video.srcObject = null;
}

function whepFailed(err) {
  if (state.mode !== 'whep') return; // told twice (the connection failed, and no picture)
  stopWhep();
  if (state.ended) return;
  if (forced === 'whep') {
    status('');
    notice(fill(TEXT.whepFailed, { why: err.message || err }));
    return;
  }
  console.info('parta: WebRTC did not work, HLS instead:', err.message || err);
  startHls(state.info);
}

// ---- HLS ---------------------------------------------------------------------------------

function loadHlsJs() {
  if (window.Hls) return Promise.resolve(window.Hls);
  return new Promise((resolve) => {
    const script = document.createElement('script');
    script.src = '/vendor/hls.js';
    script.onload = () => resolve(window.Hls || null);
    script.onerror = () => resolve(null);
    document.head.append(script);
  });
}

async function startHls(info) {
  setMode('hls');
  state.shownFrames = 0;
  status(TEXT.startingHls);
  const url = `${info.hls}${info.hls.includes('?') ? '&' : '?'}viewer=${encodeURIComponent(viewerId)}`;
  const choice = params.get('player'); // 'native' | 'hlsjs': for trying one or the other
  const native = !!video.canPlayType(HLS_MIME);
  if ((native && choice !== 'hlsjs') || choice === 'native') {
    state.player = 'native';
    video.src = url;
    video.addEventListener('error', () => {
      if (!state.ended && state.mode === 'hls' && !state.hls) {
        // most likely the playlist is not written yet: try again shortly
        status(TEXT.waitingHls);
        clearTimeout(state.hlsTimer);
        state.hlsTimer = setTimeout(() => { video.src = url; play(); }, HLS_RETRY_MS);
      }
    });
    play();
    return;
  }
  const Hls = await loadHlsJs();
  if (!Hls || !Hls.isSupported()) {
    status('');
    notice(Hls ? TEXT.noPlayer : TEXT.noHlsJs);
    return;
  }
  state.player = 'hls.js';
  const start = () => {
    if (state.ended) return;
    const hls = new Hls({ lowLatencyMode: true, backBufferLength: 30 });
    state.hls = hls;
    hls.on(Hls.Events.MANIFEST_PARSED, () => play());
    hls.on(Hls.Events.ERROR, (_event, data) => {
      if (!data.fatal || hls !== state.hls) return;
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
        hls.recoverMediaError();
        return;
      }
      // the playlist not there yet, or a network blip: start again shortly
      hls.destroy();
      state.hls = null;
      if (state.ended) return;
      status(data.details === 'manifestLoadError' ? TEXT.waitingHls : TEXT.startingHls);
      clearTimeout(state.hlsTimer);
      state.hlsTimer = setTimeout(start, HLS_RETRY_MS);
    });
    hls.loadSource(url);
    hls.attachMedia(video);
  };
  start();
}

function stopHls() {
  clearTimeout(state.hlsTimer);
  if (state.hls) {
    state.hls.destroy();
    state.hls = null;
  }
  video.removeAttribute('src');
  video.load();
}

// ---- the broadcast's state ---------------------------------------------------------------

function end() {
  if (state.ended) return;
  state.ended = true;
  state.live = false;
  clearTimeout(state.pollTimer);
  stopWhep();
  stopHls();
  status('');
  notice('');
  $('watch-live').hidden = true;
  $('watch-ended-badge').hidden = false;
  $('watch-mode').hidden = true;
  $('watch-viewers').hidden = true;
  $('btn-play').hidden = true;
  $('btn-unmute').hidden = true;
  player.dataset.state = 'ended';
  player.hidden = true;
  $('watch-ended').hidden = false;
}

async function fetchInfo() {
  const response = await fetch(`/api/watch/${encodeURIComponent(token)}`, {
    cache: 'no-store',
    headers: { Accept: 'application/json' },
  });
  if (response.status === 404) return { gone: true };
  if (response.status === 401) return { login: true };
  if (!response.ok) throw new Error(`the server answered ${response.status}`);
  return { info: await response.json() };
}

async function poll() {
  if (state.ended) return;
  try {
    const { info, gone } = await fetchInfo();
    if (gone) return end();
    if (info) {
      render(info);
      if (!info.live) return end();
    }
  } catch {
    // a network blip: ask again next time
  }
  state.pollTimer = setTimeout(poll, POLL_MS);
}

async function main() {
  countShownFrames();
  let first;
  try {
    first = await fetchInfo();
  } catch (err) {
    status('');
    notice(fill(TEXT.hlsFailed, { why: err.message || err }));
    state.pollTimer = setTimeout(poll, POLL_MS);
    return;
  }
  if (first.gone) return end();
  if (first.login) {
    location.href = `/login?next=${encodeURIComponent(location.pathname + location.search)}`;
    return;
  }
  render(first.info);
  if (!first.info.live) return end();
  state.pollTimer = setTimeout(poll, POLL_MS);

  const canWhep = typeof RTCPeerConnection === 'function';
  if (forced === 'hls' || (!canWhep && forced !== 'whep')) {
    startHls(first.info);
    return;
  }
  if (!canWhep) {
    status('');
    notice(fill(TEXT.whepFailed, { why: 'this browser has no WebRTC' }));
    return;
  }
  try {
    await startWhep(first.info);
  } catch (err) {
    whepFailed(err);
  }
}

window.addEventListener('pagehide', () => {
  if (state.whepLocation) {
    // the Location's last part is the session's secret: it is all the DELETE needs
    fetch(state.whepLocation, { method: 'DELETE', keepalive: true }).catch(() => {});
    state.whepLocation = null;
  }
});

main();
