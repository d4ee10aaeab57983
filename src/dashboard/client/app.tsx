/**
 * The dashboard's shell: sign-in, the theme, navigation between the pages (hash routes, `#/engines`...), and what
 * every page shares (the theme in effect).
 */
import { useEffect, useLayoutEffect, useState } from "preact/hooks";
import { ApiError, adminToken, api, onRefused, setAdminToken } from "./api.ts";
import { useAction, usePoll } from "./hooks.ts";
import { AccessPage } from "./pages/access.tsx";
import { ActivityPage } from "./pages/activity.tsx";
import { CatalogPage } from "./pages/catalog.tsx";
import { EnginesPage } from "./pages/engines.tsx";
import { LocalModelsPage } from "./pages/local-models.tsx";
import { ShellContext } from "./shell.ts";
import type { VersionAnswer } from "./types.ts";
import { ErrorNote } from "./ui.tsx";

const PAGES = [
  { path: "engines", title: "Engines", Page: EnginesPage },
  { path: "catalog", title: "Catalog", Page: CatalogPage },
  { path: "models", title: "Local models", Page: LocalModelsPage },
  { path: "access", title: "Access", Page: AccessPage },
  { path: "activity", title: "Activity", Page: ActivityPage },
] as const;

type ThemeChoice = "auto" | "light" | "dark";
const THEME_KEY = "ithaca.theme";

const systemTheme = () => (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");

/** The theme: the operator's choice (kept in localStorage: not a secret) or the system's. */
function useTheme(): { choice: ThemeChoice; effective: string; next: () => void } {
  const [choice, setChoice] = useState<ThemeChoice>(() => {
    const saved = localStorage.getItem(THEME_KEY);
    return saved === "light" || saved === "dark" ? saved : "auto";
  });
  const [system, setSystem] = useState(systemTheme);
  useEffect(() => {
    const query = matchMedia("(prefers-color-scheme: dark)");
    const changed = () => setSystem(systemTheme());
    query.addEventListener("change", changed);
    return () => query.removeEventListener("change", changed);
  }, []);
  const effective = choice === "auto" ? system : choice;
  useLayoutEffect(() => {
    document.documentElement.dataset.theme = effective;
  }, [effective]);
  const next = () => {
    const order: ThemeChoice[] = ["auto", "light", "dark"];
    const following = order[(order.indexOf(choice) + 1) % order.length] as ThemeChoice;
    if (following === "auto") localStorage.removeItem(THEME_KEY);
    else localStorage.setItem(THEME_KEY, following);
    setChoice(following);
  };
  return { choice, effective, next };
}

/** The page named by the location's hash. */
function useRoute(): string {
  const read = () => location.hash.replace(/^#\/?/, "") || "engines";
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const changed = () => setRoute(read());
    addEventListener("hashchange", changed);
    return () => removeEventListener("hashchange", changed);
  }, []);
  return route;
}

type Access =
  | { state: "checking" }
  | { state: "in"; mode: "token" | "open" }
  | { state: "signin"; reason?: string }
  | { state: "blocked"; reason: string };

/** Whether the admin API answers this tab, and how. */
function checkAccess(token: string | null): Promise<Access> {
  return api("GET", "/admin/clusters", undefined, token).then(
    (): Access => ({ state: "in", mode: token ? "token" : "open" }),
    (error: unknown): Access => {
      if (error instanceof ApiError && error.code === "invalid_admin_token") {
        return token ? { state: "signin", reason: "That admin token was refused." } : { state: "signin" };
      }
      if (error instanceof ApiError) return { state: "blocked", reason: error.message };
      return { state: "blocked", reason: `Ithaca does not answer (${String(error)}).` };
    },
  );
}

/** The dashboard. */
export function App() {
  const theme = useTheme();
  const route = useRoute();
  const [access, setAccess] = useState<Access>({ state: "checking" });

  useEffect(() => {
    void checkAccess(adminToken()).then(setAccess);
    return onRefused((error) => {
      // Only a kept token can have gone bad (the server restarted with another one): without one, the sign-in form
      // already shows, and a token being tried there is not kept yet.
      if (adminToken() === null) return;
      setAdminToken(null);
      setAccess({ state: "signin", reason: error.message });
    });
  }, []);

  const themeButton = (
    <button
      type="button"
      class="ghost"
      onClick={theme.next}
      title="Theme: automatic (the system's), light or dark"
      aria-label={`Theme: ${theme.choice}`}
    >
      {theme.choice === "auto" ? `◐ Auto (${theme.effective})` : theme.choice === "light" ? "☀ Light" : "☾ Dark"}
    </button>
  );

  if (access.state !== "in") {
    return (
      <div class="gate">
        <div class="gate-top">{themeButton}</div>
        <main class="gate-card">
          <h1>
            <span class="brand-mark" aria-hidden="true">
              ◈
            </span>{" "}
            Ithaca
          </h1>
          {access.state === "checking" && <p class="muted">Connecting…</p>}
          {access.state === "blocked" && <div class="note note-bad">{access.reason}</div>}
          {access.state === "signin" && <SignIn reason={access.reason} onSignedIn={setAccess} />}
        </main>
      </div>
    );
  }

  const page = PAGES.find((p) => p.path === route) ?? PAGES[0];
  const Page = page.Page;
  return (
    <ShellContext.Provider value={{ theme: theme.effective }}>
      <div class="layout">
        <nav class="sidebar" aria-label="Pages">
          <div class="brand">
            <span class="brand-mark" aria-hidden="true">
              ◈
            </span>{" "}
            Ithaca
          </div>
          <ul>
            {PAGES.map((p) => (
              <li key={p.path}>
                <a href={`#/${p.path}`} aria-current={p === page ? "page" : undefined}>
                  {p.title}
                </a>
              </li>
            ))}
          </ul>
          <div class="sidebar-foot">
            <a href="/swagger" target="_blank" rel="noopener noreferrer">
              API docs
            </a>
          </div>
        </nav>
        <div class="main">
          <header class="topbar">
            <h1>{page.title}</h1>
            <div class="topbar-right">
              <ServerInfo />
              <span class="muted" title="How this tab reaches the admin API">
                {access.mode === "open" ? "open mode (this machine)" : "signed in"}
              </span>
              {themeButton}
              {access.mode === "token" && (
                <button
                  type="button"
                  class="ghost"
                  onClick={() => {
                    setAdminToken(null);
                    setAccess({ state: "signin" });
                  }}
                >
                  Sign out
                </button>
              )}
            </div>
          </header>
          <main class="content">
            <Page />
          </main>
        </div>
      </div>
    </ShellContext.Provider>
  );
}

/** The server's version, once. */
function ServerInfo() {
  const version = usePoll(() => api<VersionAnswer>("GET", "/admin/version"), 0);
  if (!version.data) return null;
  const { version: v, mlx, platform } = version.data;
  return (
    <span class="muted" title={`${platform}${mlx ? `, MLX ${mlx}` : ""}`}>
      v{v}
    </span>
  );
}

/** The admin-token form. The token is checked, then kept for this tab only. */
function SignIn({ reason, onSignedIn }: { reason?: string; onSignedIn: (access: Access) => void }) {
  const [token, setToken] = useState("");
  const [refused, setRefused] = useState<string | undefined>(reason);
  const submit = useAction(async () => {
    const access = await checkAccess(token.trim());
    if (access.state === "in") {
      setAdminToken(token.trim());
      onSignedIn(access);
    } else if (access.state === "signin" || access.state === "blocked") setRefused(access.reason);
  });
  return (
    <form
      class="stack"
      onSubmit={(event) => {
        event.preventDefault();
        void submit.run();
      }}
    >
      <p class="muted">
        Sign in with the admin token (<code>ITHACA_ADMIN_TOKEN</code>). It is kept for this tab only and sent as a
        header, never in a cookie.
      </p>
      {refused && <div class="note note-bad">{refused}</div>}
      <label class="field">
        <span>Admin token</span>
        <input
          type="password"
          name="admin-token"
          autoComplete="current-password"
          value={token}
          onInput={(event) => setToken(event.currentTarget.value)}
          required
        />
      </label>
      <ErrorNote error={submit.error} />
      <button type="submit" class="primary" disabled={submit.busy || token.trim() === ""}>
        {submit.busy ? "Checking…" : "Sign in"}
      </button>
    </form>
  );
}
