/**
 * Routes that never require a key (OdyssAI-X: public routes are never gated), as the contract publishes them. Pairing
 * (`POST /admin/pair`, open only while the discovery gate is, and the gate's state) is among them: a client pairs
 * before it has any credential.
 */
export const PUBLIC_ROUTES = [
  "/health",
  "/.well-known/*",
  "/swagger",
  "/swagger/json",
  "/swagger/assets/*",
  "/admin/pair",
  "/admin/discovery/state",
] as const;
