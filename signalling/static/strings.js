// Every text the web client shows, in one place so that it can be translated.
// `{name}` placeholders are filled by t(key, {name: ...}).

export const STRINGS = {
  lang: 'en', // the <html lang> of this translation
  appName: 'parta',
  tagline: 'Video lessons for your school',
  noscript: 'parta needs JavaScript to run calls.',

  // Home and pre-join screens
  yourName: 'Your name',
  yourNamePlaceholder: 'e.g. Anna Petrova',
  callName: 'Call name',
  callNameHint: 'Latin letters, numbers, - and _. Everyone who opens the same link joins the same call.',
  callLinkPreview: 'Link: {link}',
  newCallName: 'New name',
  newCallNameAria: 'Make up a new call name',
  joinCall: 'Join call',
  joinCallTitle: 'Join “{call}”',
  joinCallIntro: 'Type your name so the others know who you are.',
  nameRequired: 'Please type your name.',
  nameTooLong: 'The name is too long (64 characters at most).',
  callRequired: 'Please type a call name.',
  badCallName: 'Use only Latin letters, digits, - and _ (64 at most).',
  badCallLink: 'This call link is not valid. Pick a call name below.',
  callLink: 'Call link',
  copyLink: 'Copy link',
  linkCopied: 'Link copied. Send it to the people you want to invite.',
  copyFailed: 'Could not copy. Select the link and copy it by hand.',
  backHome: 'Back to home',

  // Call screen
  you: 'You',
  youSuffix: '{name} (you)',
  presenting: '{name} is presenting',
  youArePresenting: 'You are presenting',
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Connection lost — reconnecting…',
  reconnected: 'Reconnected.',
  reconnectFailed: 'Could not reach the server.',
  tryAgain: 'Try again',
  gettingDevices: 'Starting camera and microphone…',
  callArea: 'Participants’ videos',
  controls: 'Call controls',
  microphone: 'Microphone',
  camera: 'Camera',
  shareScreen: 'Share screen',
  stopSharing: 'Stop sharing',
  participants: 'People',
  participantsTitle: 'People in the call ({count})',
  closePanel: 'Close',
  leave: 'Leave',
  micOff: 'Microphone off',
  cameraOff: 'Camera off',
  speaking: 'Speaking',
  pin: 'Show {name} large',
  unpin: 'Stop showing {name} large',
  turnMicOn: 'Turn microphone on (Ctrl+D)',
  turnMicOff: 'Turn microphone off (Ctrl+D)',
  turnCameraOn: 'Turn camera on (Ctrl+E)',
  turnCameraOff: 'Turn camera off (Ctrl+E)',
  screenUnsupported: 'This browser cannot share the screen.',
  leaveTitle: 'Leave the call',
  peerJoined: '{name} joined',
  peerLeft: '{name} left',

  // Left screen
  leftTitle: 'You left the call',
  leftBody: 'The call “{call}” goes on without you. You can come back at any time.',
  rejoin: 'Rejoin',

  // Devices
  noDevicesAtAll: 'Camera and microphone are not available, so you joined without them. You can still see and hear the others.',
  noCamera: 'The camera is not available, so you joined with the microphone only.',
  noMicrophone: 'The microphone is not available, so you joined with the camera only.',
  needsHttps: 'Camera and microphone only work over HTTPS (or on this computer). You joined without them.',
  deviceDenied: 'The browser did not allow the {device}. Allow it in the address bar, then click the button again.',
  deviceMissing: 'No {device} was found.',
  deviceBusy: 'The {device} is in use by another program.',
  screenFailed: 'Screen sharing did not start.',
  deviceNameMicrophone: 'microphone',
  deviceNameCamera: 'camera',
  soundBlocked: 'The browser paused the sound of the call.',
  enableSound: 'Turn on sound',

  // Errors
  serverError: 'The server refused: {message}',
  publishFailed: 'Could not send your camera or microphone: {message}',
  subscribeFailed: 'Could not receive the others’ video: {message}',
  mediaFailed: 'The media connection failed — reconnecting…',
  dismiss: 'Dismiss',
  timeout: 'no answer from the server',
};

/** Look up a string and fill its `{placeholders}`. */
export function t(key, vars = {}) {
  const text = STRINGS[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}
