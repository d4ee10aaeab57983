/**
 * The starting points offered for a new cloud provider (`GET /admin/providers/templates`; reference/odyssai-x-wire.md
 * §4 "Templates"), with the base URLs `upstreams[].base_url` expects (API prefix included: Anthropic's is
 * `https://api.anthropic.com/v1`, where OdyssAI-X keeps the prefix in its code).
 */
import type { ProviderProtocol } from "../store/providers.ts";

/** A starting point for a new provider (`GET /admin/providers/templates`). */
export interface ProviderTemplate {
  id: string;
  label: string;
  /** What `upstreams[].base_url` expects (API prefix included); null for `custom`. */
  api_base: string | null;
  /** A suggested environment variable for the key; null for `custom`. */
  api_key_env: string | null;
  protocol: ProviderProtocol;
}

/** The templates, in OdyssAI-X's order. */
export const PROVIDER_TEMPLATES: readonly ProviderTemplate[] = [
  { id: "custom", label: "Custom (OpenAI-compatible)", api_base: null, api_key_env: null, protocol: "openai" },
  {
    id: "openai",
    label: "OpenAI",
    api_base: "https://api.openai.com/v1",
    api_key_env: "OPENAI_API_KEY",
    protocol: "openai",
  },
  {
    id: "anthropic",
    label: "Anthropic",
    api_base: "https://api.anthropic.com/v1",
    api_key_env: "ANTHROPIC_API_KEY",
    protocol: "anthropic",
  },
  {
    id: "openrouter",
    label: "OpenRouter",
    api_base: "https://openrouter.ai/api/v1",
    api_key_env: "OPENROUTER_API_KEY",
    protocol: "openai",
  },
];
