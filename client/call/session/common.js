// What the parts of a call session share: the sources we send, the roles, and the
// error that marks a stale result (the socket or connection it was for has gone).

export const SOURCES = ['microphone', 'camera', 'screen'];

export const ROLES = ['host', 'cohost', 'participant'];

export class StaleError extends Error {}

export function isHostRole(role) {
  return role === 'host' || role === 'cohost';
}
