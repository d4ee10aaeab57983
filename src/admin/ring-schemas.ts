/**
 * Request bodies of the ring-cluster side of `/admin/clusters*` (src/fleet/ring/clusters.ts): a cluster of kind
 * `ring` (`PUT /admin/clusters/{id}`) and the load options' query; shared with the engines' body: an SSH login and
 * an SSH key path.
 */
import * as v from "valibot";
import { validModelPath, validModelsDir } from "../fleet/ring/node-facts.ts";
import { FINGERPRINT_PATTERN, parseSshTarget, SSH_TARGET_PATTERN } from "../fleet/ssh-target.ts";

/** An IPv4 or IPv6 literal (the ring's address of a node). */
const IpLiteral = v.union([v.pipe(v.string(), v.ipv4()), v.pipe(v.string(), v.ipv6())], "must be an IP address");

function validTarget(target: string): boolean {
  try {
    parseSshTarget(target, "");
    return true;
  } catch {
    return false;
  }
}

/** An SSH login: `user@host` or `user@host:port` (port 1-65535). */
export const SshTarget = v.pipe(
  v.string(),
  v.regex(SSH_TARGET_PATTERN, "must be user@host or user@host:port"),
  v.check(validTarget, "must be user@host or user@host:port (port 1-65535)"),
);

/** Path of an SSH private key on this machine (absolute or under ~/); never returned. */
export const SshKeyPath = v.pipe(
  v.string(),
  v.regex(/^(~\/|\/)/, "must be an absolute path or one under ~/"),
  v.maxLength(4096, "must be at most 4096 characters"),
  v.check((path) => !/\p{Cc}/u.test(path), "must not contain control characters"),
);

/** A model path: relative to models_dir or absolute, of [A-Za-z0-9._/-], no `..`. */
export const ModelPath = v.pipe(
  v.string("must be a string"),
  v.check(validModelPath, "must be a model path of [A-Za-z0-9._/-] (relative to models_dir, or absolute), no '..'"),
);

/** Body of `PUT /admin/clusters/{id}` for a ring cluster. */
export const RingClusterInputSchema = v.strictObject({
  kind: v.literal("ring"),
  name: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(100))),
  models_dir: v.pipe(
    v.string(),
    v.check(validModelsDir, "must be a directory path of [A-Za-z0-9._/-], absolute or under ~/, no '..'"),
  ),
  ithaca_command: v.optional(
    v.pipe(
      v.string(),
      v.maxLength(512, "must be at most 512 characters"),
      v.regex(
        /^[A-Za-z0-9._/~=-]+( [A-Za-z0-9._/~=-]+)*$/,
        "must be a command and its arguments: words of [A-Za-z0-9._/~=-] separated by single spaces",
      ),
    ),
  ),
  ssh_key: v.optional(SshKeyPath),
  /** Watchdog: seconds to the first token (a non-stream answer: the whole answer); default 600. */
  prefill_deadline_s: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(86_400))),
  /** Watchdog: seconds between two tokens of a stream; default 300. */
  decode_deadline_s: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(86_400))),
  nodes: v.pipe(
    v.array(
      v.strictObject({
        host: v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, "must be a host name")),
        ssh: SshTarget,
        ip: IpLiteral,
        ssh_host_key: v.optional(
          v.pipe(v.string(), v.regex(FINGERPRINT_PATTERN, "must be SHA256:<43 base64 characters>")),
        ),
      }),
    ),
    v.minLength(1, "must list at least one node"),
    v.maxLength(16, "must list at most 16 nodes"),
  ),
});

/** Query of `GET /admin/clusters/{id}/load-options`. */
export const LoadOptionsQuery = v.object({ model: ModelPath });
