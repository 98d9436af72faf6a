// The scale benchmark (issue 7, "Scale"): how Tessera's stores behave when they are big.
//   node scale/run.mjs [--out <file.md>] [--json <file.json>]   (from bench/; no --out: stdout)
// Progress goes to stderr. Measures, with Tessera's public API only:
//   1. load latency (open + get of a random existing session) on SQLite and PostgreSQL with 10k
//      and 1M live sessions, sequential and 16 concurrent loaders; target: 1M within 1.2x of 10k;
//   2. sessions.clearExpired() over 1M expired rows (plus 10k live rows that must survive): time,
//      the longest load seen by a concurrent reader, and the longest event-loop block in the
//      process running it; target: both < 100 ms;
//   3. memory of one process that served 100k distinct sessions from memoryBackend, default
//      maxEntries and maxEntries 100 000 (in a child with --expose-gc); target: bounded by maxEntries.
// Rows are seeded with SQL straight into Tessera's table (after sessions.migrate()), keyed by
// hashKey(key) of deterministic keys, so random existing sessions can be loaded through the API.
//
// Env (for quick trials; the defaults are the issue's sizes): SCALE_SMALL (10000), SCALE_BIG
// (1000000), SCALE_EXPIRED (1000000), SCALE_SESSIONS (memory test, 100000), SKIP_SQLITE=1,
// SKIP_PG=1, SKIP_MEMORY=1.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir, cpus, totalmem } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
import { setTimeout as sleep, setImmediate as yieldLoop } from "node:timers/promises";
import Database from "better-sqlite3";
import pg from "pg";
import { createSessions, hashKey } from "tessera-sessions";
import { databaseBackend } from "tessera-sessions/backends/db";
import { startPostgres, children, PG_PORT } from "../stores.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({ options: { out: { type: "string" }, json: { type: "string" } } });

const SMALL = Number(process.env.SCALE_SMALL ?? 10_000);
const BIG = Number(process.env.SCALE_BIG ?? 1_000_000);
const EXPIRED = Number(process.env.SCALE_EXPIRED ?? 1_000_000);
const MEMORY_SESSIONS = Number(process.env.SCALE_SESSIONS ?? 100_000);
const TABLE = "tessera_sessions"; // Tessera's table (src/backends/db/schema.ts)

// Load-latency schedule, per backend and size: a warm-up, then ROUNDS rounds alternating the
// two sizes (so drift in a shared machine's load hits both alike), each with SEQUENTIAL loads one
// after another and CONCURRENT loads spread over LOADERS concurrent loaders.
const WARMUP = 500;
const ROUNDS = 4;
const SEQUENTIAL = 750;
const CONCURRENT = 1500;
const LOADERS = 16;
const LOAD_TARGET = 1.2; // issue 7: latency at 1M within 1.2x of 10k
const STALL_TARGET_MS = 100; // issue 7: longest stall during clearExpired
const PG_READERS = 4; // concurrent reader loops during PostgreSQL's clearExpired
const BASELINE_MS = 1000; // reader time before clearExpired starts, for comparison

const DAY = 86_400_000;
const AGE = 14 * DAY; // Tessera's default cookie age: a session expires 14 days after its last save
const NOW = Date.now();

const PG_SHARED_BUFFERS = process.env.SCALE_PG_SHARED_BUFFERS ?? "1GB";
const defaultBatch = (backend) => (/sqlite/i.test(backend) ? 200 : 1000);
const log = (message) => process.stderr.write(`[scale ${(performance.now() / 1000).toFixed(1)}s] ${message}\n`);

// ---- keys, rows and statistics -------------------------------------------------------------

/** Session key i: 32 chars [a-z0-9], a one-letter prefix ("s" live, "e" expired) and the number. */
const keyOf = (prefix, i) => prefix + String(i).padStart(31, "0");
/** The value every seeded session holds under "user" (its data is {"user":"u<i>"}). */
const userOf = (i) => `u${i}`;
/** Times as the backend stores them (ms since the epoch): live rows saved within the last day
 * expire in 13-14 days; expired rows expired 1-2 days ago. */
const createdOf = (live, i) => (live ? NOW : NOW - AGE - DAY) - (i % DAY);

/** mulberry32: a small deterministic generator, so every run loads the same sessions. */
function generator(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function percentile(values, q) {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}
/** The largest of many values (Math.max(...values) overflows the stack past ~100k). */
function maximum(values) {
  let most = -Infinity;
  for (const v of values) if (v > most) most = v;
  return values.length ? most : NaN;
}
const round = (x, digits = 3) => (Number.isFinite(x) ? Number(x.toFixed(digits)) : null);
const mark = (ok) => (ok ? "✓" : "✗");
const size = (n) => (n >= 1e6 && n % 1e6 === 0 ? `${n / 1e6}M` : n >= 1e3 && n % 1e3 === 0 ? `${n / 1e3}k` : String(n));

/**
 * Watches this process's event loop: a 1 ms interval records the longest gap between its ticks,
 * i.e. the longest time nothing else (a request, a timer) could have run.
 */
function loopMonitor() {
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 1);
  return {
    stop() {
      clearInterval(timer);
      // A block that lasts until now has not been seen by a tick yet.
      return Math.max(longest, performance.now() - last);
    },
  };
}

/** Opens session `prefix`/i through the API and checks it holds the seeded value. */
async function loadOne(sessions, prefix, i) {
  const value = await sessions.open(keyOf(prefix, i)).get("user");
  if (value !== userOf(i))
    throw new Error(`session ${keyOf(prefix, i)} read ${JSON.stringify(value)}, expected ${JSON.stringify(userOf(i))}: the benchmark would read nothing`);
}

/** Before timing anything: seeded sessions really load (first, last, a few random), unknown keys do not. */
async function verifySeeded(sessions, prefix, rows, label) {
  const random = generator(99);
  for (const i of [0, rows - 1, ...Array.from({ length: 20 }, () => Math.floor(random() * rows))]) await loadOne(sessions, prefix, i);
  if ((await sessions.open(keyOf(prefix, rows)).get("user")) !== undefined) throw new Error(`${label}: a session that was never seeded loaded`);
  log(`${label}: seeded sessions load through the API`);
}

/** `count` loads of random sessions among `rows`, by `loaders` concurrent loaders; returns each load's ms. */
async function timedLoads(sessions, prefix, rows, count, loaders, random) {
  const latencies = [];
  let remaining = count;
  const loader = async () => {
    while (remaining-- > 0) {
      const i = Math.floor(random() * rows);
      const t0 = performance.now();
      const value = await sessions.open(keyOf(prefix, i)).get("user");
      latencies.push(performance.now() - t0);
      if (value !== userOf(i)) throw new Error(`load of session ${i} read ${JSON.stringify(value)}`);
    }
  };
  await Promise.all(Array.from({ length: loaders }, loader));
  return latencies;
}

/**
 * Load latency of one backend at both sizes: `small` and `big` are { sessions, rows }, live
 * sessions "s"0..rows-1. Returns one result row per mode (sequential, concurrent).
 */
/**
 * A live session table is hot in a running server: statistics gathered (autovacuum would) and the
 * table and its indexes in shared_buffers (pg_prewarm, from PostgreSQL's contrib), so the loads
 * measure the lookup at each size rather than the first read of each page from the OS.
 */
async function warmPostgres(store) {
  await store.client.query(`VACUUM ANALYZE ${TABLE}`);
  await store.client.query("CREATE EXTENSION IF NOT EXISTS pg_prewarm");
  await store.client.query(
    `SELECT pg_prewarm(c.oid::regclass) FROM pg_class c WHERE c.oid = '${TABLE}'::regclass OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = '${TABLE}'::regclass)`,
  );
}

async function measureLoads(backend, small, big) {
  const random = generator(7);
  const stores = [small, big];
  const samples = stores.map(() => ({ sequential: [], concurrent: [] }));
  for (const store of stores) await timedLoads(store.sessions, "s", store.rows, WARMUP, 1, random);
  for (let r = 0; r < ROUNDS; r++) {
    for (const k of r % 2 === 0 ? [0, 1] : [1, 0]) {
      const { sessions, rows } = stores[k];
      samples[k].sequential.push(...(await timedLoads(sessions, "s", rows, SEQUENTIAL, 1, random)));
      samples[k].concurrent.push(...(await timedLoads(sessions, "s", rows, CONCURRENT, LOADERS, random)));
    }
  }
  return ["sequential", "concurrent"].map((mode) => {
    const [s, b] = samples.map((x) => x[mode]);
    const at = (values, rows) => ({
      rows,
      loads: values.length,
      p50: round(percentile(values, 0.5)),
      p99: round(percentile(values, 0.99)),
      max: round(maximum(values)),
    });
    const row = { backend, mode, loaders: mode === "sequential" ? 1 : LOADERS, small: at(s, small.rows), big: at(b, big.rows) };
    row.ratioP50 = round(row.big.p50 / row.small.p50, 2);
    row.ratioP99 = round(row.big.p99 / row.small.p99, 2);
    row.target = LOAD_TARGET;
    row.met = row.ratioP50 <= LOAD_TARGET && row.ratioP99 <= LOAD_TARGET;
    log(`${backend} ${mode}: p50 ${row.small.p50} -> ${row.big.p50} ms (${row.ratioP50}x), p99 ${row.small.p99} -> ${row.big.p99} ms (${row.ratioP99}x)`);
    return row;
  });
}

/**
 * What the readers saw: the longest load that overlapped the clearExpired window [t0, t1]
 * (epoch ms), and for comparison the longest in the quiet time before it.
 */
function readerStats(starts, durations, t0, t1) {
  const during = [];
  const before = [];
  for (let k = 0; k < starts.length; k++) {
    const start = starts[k];
    const end = start + durations[k];
    if (start < t1 && end > t0) during.push(durations[k]);
    else if (end <= t0) before.push(durations[k]);
  }
  return {
    readerLoads: during.length,
    readerP99Ms: round(percentile(during, 0.99)),
    readerStallMs: round(maximum(during), 1),
    readerBeforeMaxMs: round(maximum(before), 1),
  };
}

/** The clearExpired result row, with the checks that make it trustworthy and the targets marked. */
function clearRow(backend, { deleted, seconds, loopBlockMs, reader, liveAfter, expiredAfter }) {
  if (deleted !== EXPIRED) throw new Error(`${backend}: clearExpired returned ${deleted}, expected ${EXPIRED}`);
  if (liveAfter !== SMALL) throw new Error(`${backend}: ${liveAfter} live rows left after clearExpired, expected ${SMALL}`);
  if (expiredAfter !== 0) throw new Error(`${backend}: ${expiredAfter} expired rows left after clearExpired`);
  if (reader.wrong > 0) throw new Error(`${backend}: ${reader.wrong} reader loads during clearExpired read the wrong value`);
  const row = {
    backend,
    deleted,
    liveKept: liveAfter,
    seconds: round(seconds, 2),
    clearMs: round(seconds * 1000, 1),
    rowsPerSecond: Math.round(deleted / seconds),
    batchSize: defaultBatch(backend), // databaseBackend's default batchSize (src/backends/db/driver.ts)
    batches: Math.floor(deleted / defaultBatch(backend)) + 1, // full batches, then the short one that ends the loop
    ...readerStats(reader.starts, reader.durations, reader.t0, reader.t1),
    loopBlockMs: round(loopBlockMs, 1),
    targetMs: STALL_TARGET_MS,
  };
  row.batchMeanMs = round((seconds * 1000) / row.batches, 1);
  row.readerMet = row.readerStallMs < STALL_TARGET_MS;
  row.loopMet = row.loopBlockMs < STALL_TARGET_MS;
  log(
    `${backend} clearExpired: ${deleted} rows in ${row.seconds} s; longest reader load ${row.readerStallMs} ms (before: ${row.readerBeforeMaxMs} ms); longest event-loop block ${row.loopBlockMs} ms`,
  );
  return row;
}

// ---- the stores ----------------------------------------------------------------------------
// Each backend gets three stores, all seeded before anything is timed (SQLite, PostgreSQL and
// the memory children run side by side then, since only the seeding overlaps):
//   small: SMALL live sessions, big: BIG live sessions (the load-latency pair),
//   clear: SMALL live + EXPIRED expired sessions (clearExpired; the live ones must survive).

/** Inserts sessions prefix/from..to-1 with one prepared statement, 20k rows per transaction,
 * letting the event loop run between transactions (so PostgreSQL's seeding proceeds meanwhile). */
async function seedSqlite(store, prefix, from, to, live) {
  const insert = store.db.prepare(
    `INSERT INTO ${TABLE} (key_hash, data, created_at, updated_at, expires_at, version, user_id) VALUES (?, ?, ?, ?, ?, 1, NULL)`,
  );
  const chunk = store.db.transaction((start, end) => {
    for (let i = start; i < end; i++) {
      const created = createdOf(live, i);
      insert.run(hashKey(keyOf(prefix, i)), JSON.stringify({ user: userOf(i) }), created, created, created + AGE);
    }
  });
  const t0 = performance.now();
  for (let start = from; start < to; start += 20_000) {
    chunk(start, Math.min(to, start + 20_000));
    if ((start - from + 20_000) % 250_000 === 0) log(`  SQLite ${store.role}: ${start - from + 20_000}/${to - from} ${live ? "live" : "expired"} rows`);
    await yieldLoop();
  }
  store.db.pragma("wal_checkpoint(TRUNCATE)"); // start the measurements without a seeding backlog in the WAL
  log(`SQLite ${store.role}: seeded ${to - from} ${live ? "live" : "expired"} rows in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

/** Creates (migrates) the three SQLite stores in `dir`. */
async function openSqlite(dir, stores) {
  for (const role of ["small", "big", "clear"]) {
    const file = join(dir, role === "big" ? "scale.sqlite3" : `scale-${role}.sqlite3`);
    const url = `sqlite:${file}`;
    const sessions = createSessions({ backend: databaseBackend({ url }) });
    await sessions.migrate();
    // A second connection for the bulk SQL and the counts; the seeding is not measured.
    const db = new Database(file);
    db.pragma("synchronous = OFF");
    db.pragma("cache_size = -262144"); // 256 MiB, for the seeding only
    stores.push({ backend: "SQLite", role, url, file, sessions, db, live: role === "big" ? BIG : SMALL, expired: role === "clear" ? EXPIRED : 0 });
  }
}

const pgUrl = (database) => `postgres://postgres@127.0.0.1:${PG_PORT}/${database}`;

/** Inserts sessions prefix/from..to-1 with INSERT … SELECT over generate_series, hashing in SQL. */
async function seedPostgres(store, prefix, from, to, live) {
  const t0 = performance.now();
  const base = live ? NOW : NOW - AGE - DAY;
  for (let start = from; start < to; start += 250_000) {
    const end = Math.min(to, start + 250_000);
    await store.client.query(
      `INSERT INTO ${TABLE} (key_hash, data, created_at, updated_at, expires_at, version, user_id)
       SELECT encode(sha256(convert_to($1::text || lpad(i::text, 31, '0'), 'UTF8')), 'hex'),
              '{"user":"u' || i || '"}', c, c, c + $4::bigint, 1, NULL
       FROM generate_series($2::bigint, $3::bigint) AS i, LATERAL (SELECT $5::bigint - (i % ${DAY}) AS c) AS t`,
      [prefix, start, end - 1, AGE, base],
    );
    if (to - from > 250_000) log(`  PostgreSQL ${store.role}: ${end - from}/${to - from} ${live ? "live" : "expired"} rows`);
  }
  log(`PostgreSQL ${store.role}: seeded ${to - from} ${live ? "live" : "expired"} rows in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

/**
 * Starts the throwaway server (stores.mjs) and creates (migrates) the three databases. One retry:
 * the server is shared code, and a failed start leaves its child for us to stop by its pid.
 */
async function openPostgres(stores) {
  let stopPostgres;
  for (let attempt = 1; stopPostgres === undefined; attempt++) {
    const before = new Set(children);
    try {
      log("PostgreSQL: starting a throwaway server");
      // Sized as a production server would be for a table this big (the default 128 MB is for a
      // laptop); the report names the setting.
      stopPostgres = await startPostgres({ settings: { shared_buffers: PG_SHARED_BUFFERS } });
    } catch (error) {
      for (const child of children) {
        if (!before.has(child)) {
          child.kill("SIGTERM");
          children.delete(child);
        }
      }
      if (attempt === 2) throw error;
      log(`PostgreSQL did not start (${error.message.split("\n")[0]}); retrying once`);
      await sleep(2000);
    }
  }
  try {
    const admin = new pg.Client({ connectionString: pgUrl("bench") });
    await admin.connect();
    const version = (await admin.query("SHOW server_version")).rows[0].server_version;
    const sharedBuffers = (await admin.query("SHOW shared_buffers")).rows[0].shared_buffers;
    for (const database of ["bench_small", "bench_clear"]) await admin.query(`CREATE DATABASE ${database}`);
    await admin.end();
    for (const [role, database] of [
      ["small", "bench_small"],
      ["big", "bench"],
      ["clear", "bench_clear"],
    ]) {
      const sessions = createSessions({ backend: databaseBackend({ url: pgUrl(database) }) });
      await sessions.migrate(); // what `tessera migrate` runs
      const client = new pg.Client({ connectionString: pgUrl(database) });
      await client.connect();
      stores.push({
        backend: "PostgreSQL",
        role,
        url: pgUrl(database),
        database,
        sessions,
        client,
        live: role === "big" ? BIG : SMALL,
        expired: role === "clear" ? EXPIRED : 0,
      });
    }
    return { stopPostgres, version, sharedBuffers };
  } catch (error) {
    await stopPostgres();
    throw error;
  }
}

/** Seeds one store: its live sessions, its expired ones, then (PostgreSQL) VACUUM ANALYZE. */
async function seed(store) {
  const fill = store.backend === "SQLite" ? seedSqlite : seedPostgres;
  await fill(store, "s", 0, store.live, true);
  if (store.expired > 0) await fill(store, "e", 0, store.expired, false);
  // As autovacuum would have by the time a table got this big: visibility map, hint bits, stats.
  if (store.backend === "PostgreSQL") await store.client.query(`VACUUM ANALYZE ${TABLE}`);
}

/**
 * Where PostgreSQL found the pages one load touches: EXPLAIN (ANALYZE, BUFFERS) of the backend's
 * load statement (the SELECT in src/backends/db/index.ts) for random live keys, averaged: "hit"
 * blocks were in shared_buffers, "read" blocks came from the OS (its page cache or the disk).
 */
async function loadBuffers(store, samples = 200) {
  const random = generator(23);
  let hit = 0;
  let read = 0;
  for (let k = 0; k < samples; k++) {
    const i = Math.floor(random() * store.live);
    const { rows } = await store.client.query(
      `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT data, expires_at, version, user_id, created_at, updated_at FROM ${TABLE} WHERE key_hash = $1 AND expires_at > $2`,
      [hashKey(keyOf("s", i)), Date.now()],
    );
    const plan = rows[0]["QUERY PLAN"][0].Plan;
    if (plan["Actual Rows"] !== 1) throw new Error(`EXPLAIN of session ${i} found ${plan["Actual Rows"]} rows`);
    hit += plan["Shared Hit Blocks"];
    read += plan["Shared Read Blocks"];
  }
  return { samples, hitPerLoad: round(hit / samples, 2), readPerLoad: round(read / samples, 2) };
}

/** The size of a store on disk: the SQLite file, or PostgreSQL's table with its indexes. */
async function storeBytes(store) {
  if (store.backend === "SQLite") return statSync(store.file).size;
  return Number((await store.client.query(`SELECT pg_total_relation_size('${TABLE}') AS n`)).rows[0].n);
}

/** Live and expired rows left in a store, counted with SQL. */
async function countRows(store) {
  const now = Date.now();
  if (store.backend === "SQLite") {
    return store.db
      .prepare(`SELECT count(*) FILTER (WHERE expires_at > ?) AS live, count(*) FILTER (WHERE expires_at <= ?) AS expired FROM ${TABLE}`)
      .get(now, now);
  }
  const row = (
    await store.client.query(`SELECT count(*) FILTER (WHERE expires_at > $1) AS live, count(*) FILTER (WHERE expires_at <= $1) AS expired FROM ${TABLE}`, [now])
  ).rows[0];
  return { live: Number(row.live), expired: Number(row.expired) };
}

// ---- clearExpired under readers ------------------------------------------------------------

/**
 * SQLite: Tessera's own instance deletes in this thread while a worker thread (its own Tessera
 * instance and connection on the same file) keeps loading live sessions.
 */
async function sqliteReaders(store) {
  const stop = new SharedArrayBuffer(4);
  const worker = new Worker(join(here, "sqlite-reader.mjs"), { workerData: { url: store.url, prefix: "s", rows: store.live, stop } });
  let ready;
  const readyP = new Promise((resolve) => (ready = resolve));
  const resultP = new Promise((resolve, reject) => {
    worker.on("message", (m) => (m === "ready" ? ready() : resolve(m)));
    worker.on("error", reject);
    worker.on("exit", (code) => reject(new Error(`the SQLite reader exited (${code}) before reporting`)));
  });
  await Promise.race([readyP, resultP]);
  return {
    async stop() {
      Atomics.store(new Int32Array(stop), 0, 1);
      try {
        return await resultP;
      } finally {
        await worker.terminate();
      }
    },
  };
}

/** PostgreSQL: PG_READERS loops in this process, on their own pool (their own Tessera instance). */
async function postgresReaders(store) {
  const sessions = createSessions({ backend: databaseBackend({ url: store.url, poolSize: PG_READERS }) });
  const reader = { starts: [], durations: [], wrong: 0 };
  let stopping = false;
  const random = generator(11);
  const loop = async () => {
    while (!stopping) {
      const i = Math.floor(random() * store.live);
      const t0 = performance.now();
      const value = await sessions.open(keyOf("s", i)).get("user");
      reader.durations.push(performance.now() - t0);
      reader.starts.push(performance.timeOrigin + t0);
      if (value !== userOf(i)) reader.wrong++;
      await sleep(1); // a server between requests, not a busy loop competing with the clear
    }
  };
  // Open the pool's connections first: connecting is not a stall the clear caused.
  await Promise.all(Array.from({ length: PG_READERS }, () => loadOne(sessions, "s", 0)));
  const loops = Array.from({ length: PG_READERS }, loop);
  return {
    async stop() {
      stopping = true;
      try {
        await Promise.all(loops);
        return reader;
      } finally {
        await sessions.close();
      }
    },
  };
}

/** PostgreSQL's checkpoints so far and autovacuums of the table (null for SQLite), to say what ran during the clear. */
async function serverActivity(store) {
  if (store.backend !== "PostgreSQL") return null;
  const { rows } = await store.client.query(
    `SELECT (SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter) AS checkpoints,
            (SELECT autovacuum_count FROM pg_stat_user_tables WHERE relname = '${TABLE}') AS finished,
            (SELECT count(*) FROM pg_stat_progress_vacuum WHERE relid = '${TABLE}'::regclass) AS running`,
  );
  // Finished autovacuums plus one still running (it counts once done): those started so far.
  return { checkpoints: Number(rows[0].checkpoints), autovacuums: Number(rows[0].finished) + Number(rows[0].running) };
}

/** clearExpired on the clear store, timed, with readers and the event-loop monitor running. */
async function measureClear(store) {
  await verifySeeded(store.sessions, "s", store.live, `${store.backend} ${store.role}`);
  for (const i of [0, store.expired - 1]) {
    // The expired rows are there but must not load: Tessera's load filters on expires_at.
    if ((await store.sessions.open(keyOf("e", i)).get("user")) !== undefined) throw new Error(`expired session ${i} loaded`);
  }
  const readers = await (store.backend === "SQLite" ? sqliteReaders(store) : postgresReaders(store));
  let reader;
  try {
    await sleep(BASELINE_MS);
    log(`${store.backend}: clearExpired over ${store.expired} expired rows, readers loading live sessions`);
    const activityBefore = await serverActivity(store);
    const monitor = loopMonitor();
    const t0 = performance.timeOrigin + performance.now();
    const deleted = await store.sessions.clearExpired();
    const t1 = performance.timeOrigin + performance.now();
    const loopBlockMs = monitor.stop();
    const activityAfter = await serverActivity(store);
    await sleep(300);
    reader = { ...(await readers.stop()), t0, t1 };
    const after = await countRows(store);
    await verifySeeded(store.sessions, "s", store.live, `${store.backend} after clearExpired`);
    const row = clearRow(store.backend, { deleted, seconds: (t1 - t0) / 1000, loopBlockMs, reader, liveAfter: after.live, expiredAfter: after.expired });
    if (activityBefore)
      row.server = { checkpoints: activityAfter.checkpoints - activityBefore.checkpoints, autovacuums: activityAfter.autovacuums - activityBefore.autovacuums };
    return row;
  } finally {
    if (reader === undefined) await readers.stop().catch(() => {});
  }
}

// ---- memory --------------------------------------------------------------------------------

/** Runs scale/memory.mjs in a fresh process with --expose-gc, once per store size. */
async function memoryScale() {
  const rows = [];
  for (const configured of ["default", "100000"]) {
    log(`memory: ${MEMORY_SESSIONS} sessions into memoryBackend(${configured === "default" ? "" : `{ maxEntries: ${configured} }`}) in a child process`);
    const child = spawn(process.execPath, ["--expose-gc", join(here, "memory.mjs"), configured, String(MEMORY_SESSIONS)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    children.add(child);
    let stdout = "";
    child.stdout.on("data", (d) => (stdout += d));
    const code = await new Promise((resolve, reject) => child.on("error", reject).on("exit", resolve));
    children.delete(child);
    if (code !== 0) throw new Error(`memory.mjs ${configured} failed (${code})`);
    rows.push(JSON.parse(stdout));
  }
  // Bounded: no more sessions kept than configured (and the newest ones), and the heap grows with
  // what is kept, not with what was served: at most 2x the kept sessions times the smallest
  // per-session cost seen. A store that leaked what it evicted would hold 10x that.
  const perSession = Math.min(...rows.map((r) => r.heapDelta / Math.max(1, r.retained)));
  return rows.map((r) => {
    const row = {
      store: r.configured === "default" ? "memoryBackend() (maxEntries 10 000)" : `memoryBackend({ maxEntries: ${r.maxEntries} })`,
      maxEntries: r.maxEntries,
      sessions: r.sessions,
      retained: r.retained,
      heapUsedMB: round(r.after.heapUsed / 2 ** 20, 1),
      heapGrowthMB: round(r.heapDelta / 2 ** 20, 1),
      bytesPerRetained: Math.round(r.heapDelta / Math.max(1, r.retained)),
      rssMB: round(r.after.rss / 2 ** 20, 1),
      peakRssMB: r.peakRss === null ? null : round(r.peakRss / 2 ** 20, 1),
      createSeconds: round(r.createMs / 1000, 2),
    };
    row.bounded = r.retained === Math.min(r.sessions, r.maxEntries) && r.newestRetained && r.heapDelta <= 2 * r.retained * perSession;
    log(`memory ${row.store}: retained ${row.retained}, heap +${row.heapGrowthMB} MB, RSS ${row.rssMB} MB`);
    return row;
  });
}

// ---- report --------------------------------------------------------------------------------

function markdown(results) {
  const out = ["## Scale", ""];
  const m = results.machine;
  out.push(
    `Run ${m.date} on ${m.cpus} × ${m.cpu}, ${m.memoryGB} GB RAM, Node ${m.node}, SQLite ${m.sqlite}${m.postgres ? `, PostgreSQL ${m.postgres}` : ""}; ${m.seconds} s. Generated by \`bench/scale/run.mjs\`.`,
    "",
  );

  if (results.loads.length) {
    out.push(`### Load latency at ${size(SMALL)} and ${size(BIG)} live sessions`, "");
    out.push(
      `Method: \`sessions.open(key)\` then \`await session.get("user")\` of a random seeded session (value checked), timed per load; per backend and size ${WARMUP} warm-up loads, then ${ROUNDS} rounds alternating the sizes of ${SEQUENTIAL} sequential loads and ${CONCURRENT} loads by ${LOADERS} concurrent loaders (Tessera's default pool of 10 on PostgreSQL); target: ${size(BIG)} p50 and p99 within ${LOAD_TARGET}x of ${size(SMALL)}. PostgreSQL runs with shared_buffers ${results.machine?.sharedBuffers ?? PG_SHARED_BUFFERS}, and each table is analysed and loaded into it first (\`VACUUM ANALYZE\`, \`pg_prewarm\`), as a live session table would be in a running server.`,
      "",
    );
    out.push(
      `| Backend | Loaders | Loads per size | p50 ${size(SMALL)} (ms) | p99 ${size(SMALL)} (ms) | p50 ${size(BIG)} (ms) | p99 ${size(BIG)} (ms) | ${size(BIG)}/${size(SMALL)} p50 | ${size(BIG)}/${size(SMALL)} p99 | Target ≤ ${LOAD_TARGET}x |`,
    );
    out.push("|---|--:|--:|--:|--:|--:|--:|--:|--:|:-:|");
    for (const r of results.loads) {
      out.push(
        `| ${r.backend} | ${r.loaders} | ${r.small.loads} | ${r.small.p50} | ${r.small.p99} | ${r.big.p50} | ${r.big.p99} | ${r.ratioP50}x | ${r.ratioP99}x | ${mark(r.met)} |`,
      );
    }
    const sizes = Object.entries(results.tableSizes).map(([b, s]) => `${b} ${(s.small / 2 ** 20).toFixed(1)} MB / ${(s.big / 2 ** 20).toFixed(0)} MB`);
    out.push("", `Store sizes at ${size(SMALL)} / ${size(BIG)}: ${sizes.join("; ")} (SQLite file; PostgreSQL table with indexes).`, "");
    const b = results.pgBuffers;
    if (b) {
      out.push(
        `PostgreSQL pages per load (EXPLAIN (ANALYZE, BUFFERS) of the backend's load statement, ${b.small.samples} random keys per size): ${size(SMALL)} ${b.small.hitPerLoad} from shared_buffers + ${b.small.readPerLoad} from the OS; ${size(BIG)} ${b.big.hitPerLoad} + ${b.big.readPerLoad}.`,
        "",
      );
    }
    for (const note of results.loadNotes) out.push(note, "");
  }

  if (results.clear.length) {
    out.push(`### clearExpired over ${size(EXPIRED)} expired rows`, "");
    out.push(
      `Method: a store of ${size(EXPIRED)} expired and ${size(SMALL)} live sessions, then \`await sessions.clearExpired()\` (databaseBackend's default batches: 200 rows on SQLite, 1000 on PostgreSQL) timed; the count returned, the ${size(SMALL)} surviving live rows and that they still load are checked. Meanwhile readers load random live sessions, pausing ~1 ms between loads, through their own Tessera instance (SQLite: a worker thread on its own connection; PostgreSQL: ${PG_READERS} loops on their own pool) and a 1 ms timer measures the longest event-loop block in the process running clearExpired; target < ${STALL_TARGET_MS} ms for both. "Before" is the longest reader load in the ${BASELINE_MS / 1000} s before the clear, for scale.`,
      "",
    );
    out.push(
      `| Backend | Rows deleted | Live rows kept | Time (s) | Rows/s | Mean ms per batch | Reader loads during | Reader p99 (ms) | Longest reader load (ms) | Before (ms) | Longest event-loop block (ms) |`,
    );
    out.push("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    for (const r of results.clear) {
      out.push(
        `| ${r.backend} | ${r.deleted} | ${r.liveKept} | ${r.seconds} | ${r.rowsPerSecond} | ${r.batchMeanMs} | ${r.readerLoads} | ${r.readerP99Ms} | ${r.readerStallMs} ${mark(r.readerMet)} | ${r.readerBeforeMaxMs} | ${r.loopBlockMs} ${mark(r.loopMet)} |`,
      );
    }
    out.push("");
    for (const note of results.clearNotes) out.push(note, "");
  }

  if (results.memory.length) {
    out.push(`### Memory of one process serving ${size(MEMORY_SESSIONS)} sessions from memoryBackend`, "");
    out.push(
      `Method: a fresh \`node --expose-gc\` process opens, sets \`user\` and commits (\`sessions.commit(session, 200)\`) ${MEMORY_SESSIONS} new sessions, counts how many still load, then reports memory after a forced GC; growth is against the same process before the first session. Bounded ✓ when the store keeps no more sessions than maxEntries (the newest ones) and its heap growth is at most 2x the kept sessions times the smallest per-session cost measured (a store that kept what it evicted would be ~10x over).`,
      "",
    );
    out.push("| Store | Sessions served | Retained | heapUsed (MB) | Heap growth (MB) | Bytes per retained session | RSS (MB) | Peak RSS (MB) | Bounded |");
    out.push("|---|--:|--:|--:|--:|--:|--:|--:|:-:|");
    for (const r of results.memory) {
      out.push(
        `| ${r.store} | ${r.sessions} | ${r.retained} | ${r.heapUsedMB} | ${r.heapGrowthMB} | ${r.bytesPerRetained} | ${r.rssMB} | ${r.peakRssMB} | ${mark(r.bounded)} |`,
      );
    }
    out.push("");
  }
  return out.join("\n");
}

/**
 * Says what differs between the sizes when a load target is missed, from what was measured: the
 * store's size against the cache in front of it.
 */
async function explainLoads(results) {
  const notes = [];
  const missed = (backend) => results.loads.some((r) => r.backend === backend && !r.met);
  const mb = (bytes) => `${Math.round(bytes / 2 ** 20)} MB`;
  if (missed("SQLite")) {
    // The page cache a connection gets when nobody sets cache_size, as Tessera's driver does not
    // (better-sqlite3 builds SQLite with its own default).
    const probe = new Database(":memory:");
    const cache = probe.pragma("cache_size", { simple: true });
    probe.close();
    const cacheBytes = cache < 0 ? -cache * 1024 : cache * 4096;
    const s = results.tableSizes.SQLite;
    notes.push(
      s.big > cacheBytes
        ? `SQLite: the ${size(BIG)} file is ${mb(s.big)} and the ${size(SMALL)} one ${mb(s.small)}, against a page cache of ${mb(cacheBytes)} per connection (better-sqlite3's default; src/backends/db/sqlite.ts sets no cache_size): at ${size(BIG)} a random load mostly finds its index and table pages in the OS page cache rather than SQLite's, a system call each, which is consistent with the extra latency.`
        : `SQLite: both files (${mb(s.small)}, ${mb(s.big)}) fit the connection's ${mb(cacheBytes)} page cache, so cache misses do not explain the difference; rerun to tell noise from a real one.`,
    );
  }
  const b = results.pgBuffers;
  if (missed("PostgreSQL") && b) {
    notes.push(
      b.big.readPerLoad > b.small.readPerLoad
        ? `PostgreSQL: at ${size(BIG)} a load reads ${b.big.readPerLoad} of its ${round(b.big.hitPerLoad + b.big.readPerLoad, 2)} pages from outside shared_buffers (${b.small.readPerLoad} at ${size(SMALL)}): the ${mb(results.tableSizes.PostgreSQL.big)} table and indexes do not fit the server's shared_buffers (${results.machine.sharedBuffers ?? "default"}), so the extra latency is consistent with those reads from the OS page cache, not with the index lookup itself.`
        : `PostgreSQL: a load touches ${b.small.hitPerLoad + b.small.readPerLoad} pages at ${size(SMALL)} and ${round(b.big.hitPerLoad + b.big.readPerLoad, 2)} at ${size(BIG)}, with no more of them outside shared_buffers at ${size(BIG)}; rerun to tell noise from a real difference.`,
    );
  }
  return notes;
}

/**
 * Says where the time goes when a clearExpired target is missed, from the numbers measured: a
 * block as long as the whole clear means the batches never let the event loop run.
 */
function explainClear(rows) {
  const notes = [];
  for (const r of rows) {
    if (!r.loopMet) {
      const whole = r.loopBlockMs >= 0.9 * r.clearMs;
      let note = whole
        ? `${r.backend}: the event loop of the process running clearExpired was blocked for ${r.loopBlockMs} ms of its ${r.clearMs} ms, i.e. the whole clear. ${r.backend === "SQLite" ? "better-sqlite3 runs each DELETE batch synchronously and the driver's `run` returns an already-settled promise, so clearExpired's batch loop (src/backends/db/index.ts) goes from one batch to the next in microtasks without ever yielding to the event loop: batching keeps each write lock short for other connections, but this process serves nothing until all batches are done." : "The batch loop does not yield between batches."}`
        : `${r.backend}: the longest event-loop block (${r.loopBlockMs} ms) is a part of the clear (${r.clearMs} ms), so the loop did turn between batches; the block is at least one batch's work.`;
      if (r.batchMeanMs >= STALL_TARGET_MS)
        note += ` A batch of ${r.batchSize} rows took ${r.batchMeanMs} ms on average, itself over the ${STALL_TARGET_MS} ms target, so yielding between batches would not be enough without smaller (or cheaper) batches.`;
      notes.push(note);
    }
    if (!r.readerMet) {
      const server = r.server
        ? ` While it ran, PostgreSQL made ${r.server.checkpoints} checkpoint(s) and ${r.server.autovacuums} autovacuum(s) of the table.`
        : "";
      notes.push(
        r.readerBeforeMaxMs >= STALL_TARGET_MS
          ? `${r.backend}: a reader waited ${r.readerStallMs} ms for one load during the clear, but readers also waited ${r.readerBeforeMaxMs} ms in the second before it started: the shared machine, not only the clear, makes such stalls.${server}`
          : `${r.backend}: a reader on its own connection waited ${r.readerStallMs} ms for one load during the clear, longer than any load in the second before it (${r.readerBeforeMaxMs} ms): the clear competes with the readers for what they share (CPU, I/O, the WAL), though readers never wait for its row locks or, in SQLite's WAL mode, its write lock.${server}`,
      );
    }
  }
  return notes;
}

async function main() {
  const started = performance.now();
  const results = { machine: {}, loads: [], loadNotes: [], clear: [], clearNotes: [], memory: [], tableSizes: {}, pgBuffers: null };
  const dir = mkdtempSync(join(tmpdir(), "bench-scale-"));
  const stores = [];
  let stopPostgres;
  let memory = Promise.resolve([]);
  try {
    // 1. Untimed set-up, side by side: the memory children (their numbers are memory, not time),
    //    the SQLite stores (seeded in this thread) and the PostgreSQL ones (seeded by the server).
    if (process.env.SKIP_MEMORY !== "1") memory = memoryScale();
    memory.catch(() => {}); // awaited below; do not let a failure go unhandled meanwhile
    if (process.env.SKIP_SQLITE !== "1") await openSqlite(dir, stores);
    if (process.env.SKIP_PG !== "1")
      ({ stopPostgres, version: results.machine.postgres, sharedBuffers: results.machine.sharedBuffers } = await openPostgres(stores));
    const seeding = performance.now();
    await Promise.all(
      ["SQLite", "PostgreSQL"].map(async (backend) => {
        for (const store of stores.filter((s) => s.backend === backend)) await seed(store);
      }),
    );
    log(`seeded every store in ${((performance.now() - seeding) / 1000).toFixed(1)} s`);
    results.memory = await memory;

    // 2. Load latency, one backend at a time, nothing else running.
    for (const backend of ["SQLite", "PostgreSQL"]) {
      const [small, big] = ["small", "big"].map((role) => stores.find((s) => s.backend === backend && s.role === role));
      if (!small) continue;
      for (const store of [small, big]) await verifySeeded(store.sessions, "s", store.live, `${backend} ${store.role}`);
      if (backend === "PostgreSQL") for (const store of [small, big]) await warmPostgres(store);
      results.loads.push(...(await measureLoads(backend, { sessions: small.sessions, rows: small.live }, { sessions: big.sessions, rows: big.live })));
      results.tableSizes[backend] = { small: await storeBytes(small), big: await storeBytes(big) };
      if (backend === "PostgreSQL") results.pgBuffers = { small: await loadBuffers(small), big: await loadBuffers(big) };
    }

    // 3. clearExpired, one backend at a time.
    for (const store of stores.filter((s) => s.role === "clear")) results.clear.push(await measureClear(store));
  } finally {
    for (const store of stores) {
      await store.sessions.close().catch(() => {});
      if (store.db) store.db.close();
      if (store.client) await store.client.end().catch(() => {});
    }
    if (stopPostgres) {
      await stopPostgres();
      log("PostgreSQL: stopped");
    }
    await memory.catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
  results.clearNotes = explainClear(results.clear);
  results.loadNotes = await explainLoads(results);
  const probe = new Database(":memory:");
  Object.assign(results.machine, {
    date: new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC",
    cpu: cpus()[0]?.model.trim() ?? "unknown CPU",
    cpus: cpus().length,
    memoryGB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    sqlite: probe.prepare("SELECT sqlite_version() AS v").get().v,
    seconds: Math.round((performance.now() - started) / 1000),
  });
  probe.close();
  results.sizes = { small: SMALL, big: BIG, expired: EXPIRED, memorySessions: MEMORY_SESSIONS };
  results.targets = {
    loadsMet: results.loads.every((r) => r.met),
    clearReaderMet: results.clear.every((r) => r.readerMet),
    clearLoopMet: results.clear.every((r) => r.loopMet),
    memoryBounded: results.memory.every((r) => r.bounded),
  };

  const md = markdown(results);
  if (args.out) writeFileSync(args.out, md + "\n");
  else process.stdout.write(md + "\n");
  if (args.json) writeFileSync(args.json, JSON.stringify(results, null, 2) + "\n");
  log(`done in ${results.machine.seconds} s${args.out ? `: ${args.out}` : ""}${args.json ? `, ${args.json}` : ""}`);
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
