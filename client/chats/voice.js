// Voice messages: record Opus with MediaRecorder, with a running timer and a cancel.
//
//   const rec = new VoiceRecorder({onTick});
//   await rec.start();            // asks for the microphone
//   const {blob, type, duration} = await rec.stop();   // or rec.cancel()

const TYPES = ['audio/webm;codecs=opus', 'audio/ogg;codecs=opus', 'audio/webm', 'audio/ogg'];

export function voiceSupported() {
  return typeof MediaRecorder !== 'undefined' && !!navigator.mediaDevices?.getUserMedia
    && TYPES.some((type) => MediaRecorder.isTypeSupported(type));
}

/** "1:05" */
export function clock(seconds) {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export class VoiceRecorder {
  constructor({ onTick = () => {}, maxSeconds = 30 * 60 } = {}) {
    this.onTick = onTick;
    this.maxSeconds = maxSeconds;
    this.stream = null;
    this.recorder = null;
    this.chunks = [];
    this.startedAt = 0;
    this.timer = null;
  }

  async start() {
    this.type = TYPES.find((type) => MediaRecorder.isTypeSupported(type));
    this.stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    this.recorder = new MediaRecorder(this.stream, { mimeType: this.type, audioBitsPerSecond: 32000 });
    this.chunks = [];
    this.recorder.ondataavailable = (event) => {
      if (event.data.size) this.chunks.push(event.data);
    };
    this.recorder.start(1000);
    this.startedAt = performance.now();
    this.onTick(0);
    this.timer = setInterval(() => {
      const elapsed = this.elapsed();
      this.onTick(elapsed);
      if (elapsed >= this.maxSeconds) this.recorder.requestData();
    }, 250);
  }

  elapsed() {
    return (performance.now() - this.startedAt) / 1000;
  }

  /** Stop and give the recording: {blob, type, duration} (duration in seconds). */
  stop() {
    return new Promise((resolve, reject) => {
      if (!this.recorder) {
        reject(new Error('not recording'));
        return;
      }
      const duration = Math.max(0.1, this.elapsed());
      this.recorder.onstop = () => {
        const type = (this.recorder.mimeType || this.type).split(';')[0];
        const blob = new Blob(this.chunks, { type });
        this.release();
        resolve({ blob, type, duration: Math.round(duration * 100) / 100 });
      };
      this.recorder.stop();
    });
  }

  cancel() {
    if (this.recorder && this.recorder.state !== 'inactive') {
      this.recorder.onstop = null;
      this.recorder.stop();
    }
    this.release();
  }

  release() {
    clearInterval(this.timer);
    this.timer = null;
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = null;
    this.recorder = null;
  }
}
