/**
 * A writer for the durability test (store.test.ts): opens the store under `argv[2]` and writes settings one
 * transaction at a time, acknowledging each (`ack <n>`, written synchronously to stdout) only after it committed,
 * until it is killed.
 */
import { writeSync } from "node:fs";
import { Store } from "../../src/store/store.ts";

const store = Store.open(process.argv[2] as string);
for (let n = 0; ; n++) {
  store.putSettings({ [`burst.${n}`]: { n, text: "x".repeat(n % 200) } });
  writeSync(1, `ack ${n}\n`);
}
