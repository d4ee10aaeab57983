/** What every page of the dashboard may read from the shell (./app.tsx): the theme in effect. */
import { createContext } from "preact";
import { useContext } from "preact/hooks";

/** What every page may read. */
export interface Shell {
  /** `light` or `dark`: the theme in effect. */
  theme: string;
}

export const ShellContext = createContext<Shell>({ theme: "light" });

/** The shell's shared state. */
export const useShell = (): Shell => useContext(ShellContext);
