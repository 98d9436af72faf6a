// Worker thread of scale/run.mjs: a reader on its own SQLite connection (its own Tessera
// instance on the same file; WAL lets it read while another connection deletes) that loads
// random live sessions back to back until told to stop, timing each load. better-sqlite3 is
// synchronous, so the reader must run outside the thread that runs clearExpired to see what
// another process (or thread) would see, not the clearing thread's own event-loop block.
//
// It pauses PAUSE_MS between loads (a server between requests, not a spinning core that would
// slow the clear it watches), so a stall is seen to within about a millisecond.
//
// workerData: { url, prefix, rows, stop (SharedArrayBuffer: Int32 flag, 1 = stop) }.
// Posts "ready" after a first, untimed load, then { starts, durations, wrong } when stopped; each
// start is in epoch milliseconds (timeOrigin + now) so the main thread can align its windows.
import { workerData, parentPort } from "node:worker_threads";
import { createSessions } from "tessera-sessions";
import { databaseBackend } from "tessera-sessions/backends/db";

const { url, prefix, rows, stop } = workerData;
const flag = new Int32Array(stop);
const PAUSE_MS = 1;
const pause = new Int32Array(new SharedArrayBuffer(4)); // nobody notifies it: Atomics.wait just sleeps
const keyOf = (i) => prefix + String(i).padStart(31, "0"); // the same keys run.mjs seeded

const sessions = createSessions({ backend: databaseBackend({ url }) });
const starts = [];
const durations = [];
let wrong = 0;
let seed = 0x5eed;
const random = () => {
  // mulberry32: a small deterministic generator, so runs pick the same sessions.
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

// One load before timing anything: opening the connection is not a stall the clear caused.
await sessions.open(keyOf(0)).get("user");
parentPort.postMessage("ready");

while (Atomics.load(flag, 0) === 0) {
  const i = Math.floor(random() * rows);
  const t0 = performance.now();
  const value = await sessions.open(keyOf(i)).get("user");
  const t1 = performance.now();
  starts.push(performance.timeOrigin + t0);
  durations.push(t1 - t0);
  if (value !== `u${i}`) wrong++;
  Atomics.wait(pause, 0, 0, PAUSE_MS);
}
await sessions.close();
parentPort.postMessage({ starts: Float64Array.from(starts), durations: Float64Array.from(durations), wrong });
