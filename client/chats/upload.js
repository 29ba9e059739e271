// Resumable uploads over tus 1.0 (POST /api/uploads, then PATCH slices, HEAD to resume).
//
//   const up = new TusUpload(file, {chatId, onProgress, onState});
//   const fileId = await up.start();   // rejects on a network error: up.resume() goes on
//
// Each slice is one PATCH sent with XMLHttpRequest, whose upload events give a smooth
// progress bar (fetch has none). After a failure, resume() asks HEAD where the server
// got to and continues from there, so no byte that arrived is sent twice.

const TUS = '1.0.0';
export const SLICE = 8 * 1024 * 1024;

function b64(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

export class UploadError extends Error {
  /** `code` is the server's error code (`too_large`, `quota_exceeded`, ...), if it sent one. */
  constructor(message, status = 0, code = null) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function refusal(response) {
  try {
    const data = await response.json();
    return new UploadError(data.message || `HTTP ${response.status}`, response.status, data.error ?? null);
  } catch {
    return new UploadError(`HTTP ${response.status}`, response.status);
  }
}

export class TusUpload {
  /** `file` is a File or Blob (a Blob needs `name`); `type` overrides its content type. */
  constructor(file, { chatId, name = null, type = null, onProgress = () => {}, onState = () => {} }) {
    this.file = file;
    this.chatId = chatId;
    this.name = name ?? file.name ?? 'file';
    this.type = type ?? file.type ?? 'application/octet-stream';
    this.onProgress = onProgress;
    this.onState = onState;
    this.location = null;
    this.offset = 0;
    this.state = 'idle'; // idle | uploading | failed | done | cancelled
    this.fileId = null;
    this.xhr = null;
  }

  get size() {
    return this.file.size;
  }

  setState(state, error = null) {
    this.state = state;
    this.error = error;
    this.onState(state, error);
  }

  async start() {
    this.setState('uploading');
    try {
      if (!this.location) await this.create();
      await this.sendRest();
    } catch (error) {
      if (this.state !== 'cancelled') this.setState('failed', error);
      throw error;
    }
    this.setState('done');
    return this.fileId;
  }

  /** After a failure: where did the server get to? Then send the rest. */
  async resume() {
    if (!this.location) return this.start();
    this.setState('uploading');
    try {
      const response = await fetch(this.location, {
        method: 'HEAD',
        credentials: 'same-origin',
        headers: { 'Tus-Resumable': TUS },
      });
      if (!response.ok) throw new UploadError(`HTTP ${response.status}`, response.status);
      this.offset = Number(response.headers.get('Upload-Offset') || 0);
      this.onProgress(this.offset, this.size);
      await this.sendRest();
    } catch (error) {
      if (this.state !== 'cancelled') this.setState('failed', error);
      throw error;
    }
    this.setState('done');
    return this.fileId;
  }

  async cancel() {
    this.setState('cancelled');
    this.xhr?.abort();
    if (this.location) {
      fetch(this.location, {
        method: 'DELETE', credentials: 'same-origin', headers: { 'Tus-Resumable': TUS },
      }).catch(() => {});
    }
  }

  async create() {
    const meta = [
      `chat_id ${b64(this.chatId)}`,
      `filename ${b64(this.name)}`,
      `filetype ${b64(this.type || 'application/octet-stream')}`,
    ].join(',');
    const response = await fetch('/api/uploads', {
      method: 'POST',
      credentials: 'same-origin',
      headers: {
        'Tus-Resumable': TUS,
        'Upload-Length': String(this.size),
        'Upload-Metadata': meta,
      },
    });
    if (response.status !== 201) throw await refusal(response);
    this.location = response.headers.get('Location');
    this.fileId = this.location.split('/').pop();
    this.offset = 0;
  }

  async sendRest() {
    this.onProgress(this.offset, this.size);
    while (this.offset < this.size) {
      if (this.state === 'cancelled') throw new UploadError('cancelled');
      const end = Math.min(this.offset + SLICE, this.size);
      this.offset = await this.patch(this.file.slice(this.offset, end));
      this.onProgress(this.offset, this.size);
    }
  }

  patch(blob) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      this.xhr = xhr;
      const start = this.offset;
      xhr.open('PATCH', this.location);
      xhr.withCredentials = true;
      xhr.setRequestHeader('Tus-Resumable', TUS);
      xhr.setRequestHeader('Upload-Offset', String(start));
      xhr.setRequestHeader('Content-Type', 'application/offset+octet-stream');
      xhr.upload.onprogress = (event) => this.onProgress(start + event.loaded, this.size);
      xhr.onload = () => {
        this.xhr = null;
        if (xhr.status === 204) {
          resolve(Number(xhr.getResponseHeader('Upload-Offset')));
        } else {
          let message = `HTTP ${xhr.status}`;
          let code = null;
          try {
            const data = JSON.parse(xhr.responseText);
            message = data.message || message;
            code = data.error ?? null;
          } catch {
            // not JSON
          }
          reject(new UploadError(message, xhr.status, code));
        }
      };
      xhr.onerror = () => { this.xhr = null; reject(new UploadError('network', 0)); };
      xhr.onabort = () => { this.xhr = null; reject(new UploadError('cancelled', 0)); };
      xhr.send(blob);
    });
  }
}
