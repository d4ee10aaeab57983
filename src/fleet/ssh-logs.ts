/**
 * An engine's log read over SSH with `tail` (`GET /admin/clusters/{id}/logs`): where the log is, the fixed command
 * that reads it, and its output split into lines attributed to their file.
 *
 * A Telemak "runs as a LaunchAgent and writes logs to `~/.telemak/logs/`" (reference/odyssai-x-wire.md §3.5); the
 * files there are not named by the reference, so its default is every file in that folder. Other engines name their
 * log at enrolment (`ssh_log`). With several files, `tail` heads each file's lines with `==> file <==`, which names the
 * file of the lines after it.
 */

/** A Telemak's log files (odyssai-x-wire §3.5), used when its enrolment names none. */
export const TELEMAK_LOG_GLOB = "~/.telemak/logs/*";
/** Lines a tail returns by default, and at most. */
export const LOG_TAIL_DEFAULT = 100;
export const LOG_TAIL_MAX = 5_000;

/**
 * A log path as enrolment accepts it: absolute or under `~/`, made of letters, digits and `._-/*` only, so that it can
 * stand unquoted in a command (for `~` and `*` to expand) without any other shell meaning.
 */
export const LOG_PATH_PATTERN = /^(~\/|\/)[A-Za-z0-9._/*-]{1,500}$/;

/** One line of a log. */
export interface LogLine {
  /** The file it comes from: the path itself for a single file; from `tail`'s headers for a glob; null if unknown. */
  file: string | null;
  text: string;
}

/**
 * The command that prints the last `lines` lines of `path` (and, with `follow`, what is appended, across rotations).
 * @throws Error when `path` or `lines` are not what enrolment and the route validate (a guard: never reached).
 */
export function tailCommand(path: string, lines: number, follow: boolean): string {
  if (!LOG_PATH_PATTERN.test(path)) throw new Error("log path not validated");
  if (!Number.isInteger(lines) || lines < 0 || lines > LOG_TAIL_MAX) throw new Error("line count not validated");
  return `tail -n ${lines}${follow ? " -F" : ""} -- ${path}`;
}

const HEADER = /^==> (.+) <==$/;

/**
 * Splits `tail` output, given in pieces as it comes, into {@link LogLine}s. For a glob, header lines set the file and
 * are dropped, with the empty line `tail` puts before each header but the first.
 */
export class LogLineSplitter {
  private partial = "";
  private pendingEmpty = false;
  private file: string | null;
  private readonly glob: boolean;

  constructor(path: string) {
    this.glob = path.includes("*");
    this.file = this.glob ? null : path;
  }

  /** The complete lines in `text` (what follows the last newline is kept for the next call). */
  push(text: string): LogLine[] {
    const pieces = (this.partial + text).split("\n");
    this.partial = pieces.pop() ?? "";
    const lines: LogLine[] = [];
    for (const raw of pieces) this.line(raw.endsWith("\r") ? raw.slice(0, -1) : raw, lines);
    return lines;
  }

  /** Whatever is left at the end (a last line without a newline). */
  flush(): LogLine[] {
    const lines: LogLine[] = [];
    if (this.partial !== "") this.line(this.partial, lines);
    this.partial = "";
    if (this.pendingEmpty) lines.push({ file: this.file, text: "" });
    this.pendingEmpty = false;
    return lines;
  }

  private line(text: string, out: LogLine[]): void {
    const header = this.glob ? HEADER.exec(text) : null;
    if (header) {
      this.pendingEmpty = false;
      this.file = header[1] ?? null;
      return;
    }
    if (this.pendingEmpty) out.push({ file: this.file, text: "" });
    this.pendingEmpty = this.glob && text === "";
    if (!this.pendingEmpty) out.push({ file: this.file, text });
  }
}
