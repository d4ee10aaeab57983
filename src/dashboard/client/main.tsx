/** The dashboard's entry in the browser (bundled by Bun from ./index.html; see ../bundle.ts). */
import { render } from "preact";
import { App } from "./app.tsx";

const root = document.getElementById("app");
if (root) render(<App />, root);
