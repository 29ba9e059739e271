// What this browser remembers per call, in localStorage: the host token and the invite
// link's token, so that a reload (or an automatic rejoin) joins as before.

// A host's token, per call: sent with every join so that a host who reloads is host again.
const HOST_TOKEN_PREFIX = 'parta.hostToken.';
// The invite link's token a participant came in with, per call: a reload or an automatic
// rejoin still has it after the address bar was cleaned.
const LINK_PREFIX = 'parta.link.';

function loadStored(prefix, call) {
  try {
    return localStorage.getItem(prefix + call) || null;
  } catch {
    return null;
  }
}

/** True when stored (or removed); false when the browser blocks storage. */
function saveStored(prefix, call, value) {
  try {
    if (value) localStorage.setItem(prefix + call, value);
    else localStorage.removeItem(prefix + call);
    return true;
  } catch {
    return false; // storage blocked: a reload loses it; the session keeps it in memory
  }
}

export const loadHostToken = (call) => loadStored(HOST_TOKEN_PREFIX, call);
export const saveHostToken = (call, token) => saveStored(HOST_TOKEN_PREFIX, call, token);
export const loadLink = (call) => loadStored(LINK_PREFIX, call);
export const saveLink = (call, token) => saveStored(LINK_PREFIX, call, token);

/** "/join/<token>" -> "<token>" (null for anything else). */
export function linkToken(path) {
  const match = typeof path === 'string' ? /^\/join\/([^/?#]+)$/.exec(path) : null;
  return match ? decodeURIComponent(match[1]) : null;
}
