// Speech in a chat: the text of a voice message under its player (what a parent reads
// instead of listening), and a call recording's captions (a WebVTT track on its player).
//
// Both arrive after the message itself: the server says `transcript_status` / the
// recording's `meta.captions_status` is "pending", then sends `message_updated` when the
// text or the captions are ready (or failed). The nodes made here are swapped in place,
// so a player that is playing keeps playing.

import { STRINGS, t } from '../shared/strings.js';
import { el } from '../shared/ui.js';

// Strings of this module; a translation in strings.js wins.
const OWN = {
  transcribing: 'Transcribing…',
  transcriptLabel: 'Transcript',
  transcriptNoSpeech: 'No speech heard',
  transcriptFailedWhy: 'No transcript: {reason}',
  transcriptLanguage: 'Spoken in {language}',
  captionsPending: 'Captions being made…',
  captionsReady: 'Captions',
  captionsReadyAria: 'Captions available: turn them on in the player',
  captionsFailedWhy: 'No captions: {reason}',
  captionsTrackLabel: 'Captions',
  speechUnknownReason: 'something went wrong',
};
for (const [key, text] of Object.entries(OWN)) if (!(key in STRINGS)) STRINGS[key] = text;

function languageName(code) {
  try {
    return new Intl.DisplayNames([t('lang')], { type: 'language' }).of(code) ?? code;
  } catch {
    return code;
  }
}

/** What the transcript part of a voice message shows: equal signatures, equal nodes. */
export function transcriptSignature(message) {
  return [message.transcript_status, message.transcript, message.transcript_language, message.transcript_reason].join('|');
}

/**
 * The transcript under a voice message: `data-testid="voice-transcript"`,
 * `data-state` pending | done | failed. Null when the server does not transcribe.
 */
export function transcriptNode(message) {
  const status = message.transcript_status ?? (message.transcript ? 'done' : null);
  if (!status) return null;
  const box = el('div', { class: 'transcript', 'data-testid': 'voice-transcript', 'data-state': status });
  if (status === 'pending') {
    box.append(
      el('span', { class: 'spinner transcript-spinner', 'aria-hidden': 'true' }),
      el('span', { class: 'transcript-note', text: t('transcribing') }),
    );
  } else if (status === 'done' && (message.transcript ?? '').trim()) {
    const language = message.transcript_language;
    box.append(el('span', { class: 'visually-hidden', text: `${t('transcriptLabel')}: ` }));
    if (language) {
      const name = languageName(language);
      box.append(el('span', {
        class: 'transcript-lang', text: language.toUpperCase(), title: t('transcriptLanguage', { language: name }),
        'aria-label': t('transcriptLanguage', { language: name }), 'data-testid': 'transcript-language',
      }));
    }
    box.append(el('p', {
      class: 'transcript-text', lang: language || null, text: message.transcript.trim(), 'data-testid': 'transcript-text',
    }));
  } else if (status === 'done') {
    box.append(el('span', { class: 'transcript-note', text: t('transcriptNoSpeech') }));
  } else {
    box.append(el('span', {
      class: 'transcript-note',
      text: t('transcriptFailedWhy', { reason: message.transcript_reason || t('speechUnknownReason') }),
    }));
  }
  return box;
}

/** Put the transcript of `message` under the voice message in `row` (a message's <li>). */
export function updateTranscript(row, message) {
  const old = row.querySelector('[data-testid="voice-transcript"]');
  const fresh = transcriptNode(message);
  if (old && fresh) old.replaceWith(fresh);
  else if (old) old.remove();
  else if (fresh) row.querySelector('.voice-wrap')?.append(fresh);
}

// ---- recordings' captions -----------------------------------------------------------------------

export function captionsSignature(message) {
  const meta = message.meta ?? {};
  return [meta.captions_status, meta.captions, meta.captions_reason, meta.captions_language].join('|');
}

/** The line on a recording's card: `data-testid="recording-captions"`, `data-state`. */
export function captionsNode(message) {
  const meta = message.meta ?? {};
  const status = meta.captions_status;
  if (!status) return null;
  const line = el('span', { class: 'rec-captions', 'data-testid': 'recording-captions', 'data-state': status });
  if (status === 'done' && meta.captions) {
    line.append(
      el('span', { class: 'cc-mark', text: 'CC', 'aria-hidden': 'true' }),
      el('span', { text: t('captionsReady') }),
    );
    line.setAttribute('title', t('captionsReadyAria'));
    line.append(el('span', { class: 'visually-hidden', text: ` (${t('captionsReadyAria')})` }));
  } else if (status === 'pending') {
    line.append(
      el('span', { class: 'spinner transcript-spinner', 'aria-hidden': 'true' }),
      el('span', { text: t('captionsPending') }),
    );
  } else if (status === 'failed') {
    line.append(el('span', { text: t('captionsFailedWhy', { reason: meta.captions_reason || t('speechUnknownReason') }) }));
  } else {
    return null; // done without a URL: nothing to offer
  }
  return line;
}

/** The captions' <track> on a recording's <video>, once they are made (once per video). */
export function addCaptionsTrack(video, message) {
  const meta = message.meta ?? {};
  if (meta.captions_status !== 'done' || !meta.captions || video.querySelector('track')) return;
  const language = meta.captions_language ?? message.transcript_language ?? null;
  const track = el('track', {
    kind: 'captions', src: meta.captions, srclang: language, label: t('captionsTrackLabel'), default: true,
    'data-testid': 'recording-track',
  });
  video.append(track);
  // a track added to a player already open is not picked by "default": show it
  if (track.track) track.track.mode = 'showing';
}

/** Update a recording's card (in the message `row`) for new captions, player open or not. */
export function updateCaptions(row, message) {
  const info = row.querySelector('.rec-info');
  if (!info) return;
  const old = info.querySelector('[data-testid="recording-captions"]');
  const fresh = captionsNode(message);
  if (old && fresh) old.replaceWith(fresh);
  else if (old) old.remove();
  else if (fresh) info.append(fresh);
  const video = row.querySelector('video');
  if (video) addCaptionsTrack(video, message);
}
