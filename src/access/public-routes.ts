/** Routes that never require a key (OdyssAI-X: public routes are never gated), as the contract publishes them. */
export const PUBLIC_ROUTES = ["/health", "/.well-known/*", "/swagger", "/swagger/json"] as const;
