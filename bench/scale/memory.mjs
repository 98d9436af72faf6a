// Child process of scale/run.mjs (run with --expose-gc): one process serves SESSIONS distinct
// sessions from memoryBackend, through Tessera's public API, and reports its memory.
//   node --expose-gc scale/memory.mjs <maxEntries|default> [sessions]
// Prints one JSON object on stdout; progress goes to stderr.
import { createSessions } from "tessera-sessions";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { readFileSync } from "node:fs";

if (typeof globalThis.gc !== "function") throw new Error("run me with node --expose-gc");

const configured = process.argv[2] ?? "default";
const SESSIONS = Number(process.argv[3] ?? 100_000);
const maxEntries = configured === "default" ? undefined : Number(configured);

/** heapUsed and RSS after a full (forced) collection, in bytes. */
function measure() {
  globalThis.gc();
  globalThis.gc(); // a second pass collects what the first one's finalizers released
  const { heapUsed, rss } = process.memoryUsage();
  return { heapUsed, rss };
}
/** The peak resident set of this process so far (VmHWM), in bytes. */
function peakRss() {
  const line = readFileSync("/proc/self/status", "utf8")
    .split("\n")
    .find((l) => l.startsWith("VmHWM:"));
  return line ? Number(line.replace(/\D+/g, "")) * 1024 : null;
}

const sessions = createSessions({ backend: memoryBackend(maxEntries === undefined ? {} : { maxEntries }) });
const before = measure();

// Create and save SESSIONS sessions as a login route would: open() without a cookie, set a
// value, commit as a 200 response (which saves it and yields the Set-Cookie).
let keys = [];
const started = performance.now();
for (let i = 0; i < SESSIONS; i++) {
  const session = sessions.open();
  await session.set("user", `u${i}`);
  const { setCookie } = await sessions.commit(session, 200);
  if (setCookie === undefined || session.sessionKey === null) throw new Error(`session ${i} was not saved`);
  keys.push(session.sessionKey);
}
const createMs = performance.now() - started;

// How many of them the process still serves: open each key and read its value back.
let retained = 0;
let newestRetained = true;
for (let i = 0; i < keys.length; i++) {
  const value = await sessions.open(keys[i]).get("user");
  if (value === `u${i}`) retained++;
  else if (value !== undefined) throw new Error(`session ${i} returned ${JSON.stringify(value)}`);
  // The store drops the least recently written: the newest sessions must be the ones kept.
  if (i >= keys.length - Math.min(keys.length, maxEntries ?? 10_000) && value === undefined) newestRetained = false;
}
const lastKey = keys[keys.length - 1];
keys = null; // the harness's own list of keys must not count as the store's memory

const after = measure();
// Use the store after measuring, so the collector could not have treated it as dead (V8 may
// drop a variable that is never read again) and the numbers are those of a serving process.
if ((await sessions.open(lastKey).get("user")) !== `u${SESSIONS - 1}`) throw new Error("the newest session is gone");
process.stdout.write(
  JSON.stringify({
    maxEntries: maxEntries ?? 10_000,
    configured,
    sessions: SESSIONS,
    retained,
    newestRetained,
    createMs,
    before,
    after,
    heapDelta: after.heapUsed - before.heapUsed,
    peakRss: peakRss(),
  }) + "\n",
);
