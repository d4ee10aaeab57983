/**
 * Routes that never require a key (OdyssAI-X: public routes are never gated), as the contract publishes them. Pairing
 * (`POST /admin/pair`, open only while the discovery gate is, and the gate's state) is among them: a client pairs
 * before it has any credential. The dashboard's page and assets (and `/`, which sends a browser there) hold no data: what
 * they show comes from the admin API, behind the admin token.
 */
export const PUBLIC_ROUTES = [
  "/health",
  "/.well-known/*",
  "/swagger",
  "/swagger/json",
  "/swagger/assets/*",
  "/admin/pair",
  "/admin/discovery/state",
  "/",
  "/dashboard",
  "/dashboard/*",
] as const;
