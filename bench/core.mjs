// The session layer's own cost, without HTTP or a framework (issue 18): `node core.mjs` in bench/
// (or `npm run bench:core`; `npm run bench` runs it first and puts its table in docs/benchmarks.md).
// Each route is the core's whole work for one request, as every adapter drives it: open the
// session from a Cookie header, use it, commit it (tryCommitSync, else commit). CPU time
// (process.cpuUsage) per request, median of REPS runs of N requests after a warm-up, with the
// min-max. Backends: memory, signed and encrypted cookies (a networked store's cost is its client's
// I/O, which one request at a time does not amortise: the server tables measure those). Prints
// markdown, or JSON with JSON=1.
import { createSessions } from "tessera-sessions";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { signedCookieBackend } from "tessera-sessions/backends/signed-cookies";

const N = Number(process.env.CORE_N ?? 50_000);
const REPS = Number(process.env.CORE_REPS ?? 7);
const SECRET = "bench-secret-0123456789abcdef-0123456789abcdef";
const BACKENDS = [
  ["memory", memoryBackend()],
  ["signed cookie", signedCookieBackend()],
  ["encrypted cookie", signedCookieBackend({ encrypt: true })],
];

/** One request's work per route, on `sessions`, with the cookie a login gave. */
function routes(sessions, header) {
  const finish = (session) => sessions.tryCommitSync(session, 200) ?? sessions.commit(session, 200);
  let n = 0;
  return {
    "/untouched": () => finish(sessions.openFromHeader(header)),
    "/read": async () => {
      const session = sessions.openFromHeader(header);
      await session.get("user");
      return finish(session);
    },
    "/write": async () => {
      const session = sessions.openFromHeader(header);
      await session.set("n", ++n);
      return finish(session);
    },
    "/login": async () => {
      const session = sessions.openFromHeader(undefined);
      await session.cycleKey();
      await session.set("user", "alice");
      await session.set("n", 0);
      return finish(session);
    },
  };
}

async function cpuPerRequest(run, count) {
  const start = process.cpuUsage();
  for (let i = 0; i < count; i++) await run();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / count;
}

const results = [];
for (const [name, backend] of BACKENDS) {
  const sessions = createSessions({ backend, secret: SECRET, cookie: { secure: false, maxAge: 14 * 24 * 3600 } });
  const login = sessions.openFromHeader(undefined);
  await login.set("user", "alice");
  await login.cycleKey();
  const { setCookie } = await sessions.commit(login, 200);
  const header = `theme=dark; ${setCookie.split(";")[0]}; _ga=GA1.2.3`;
  const row = { backend: name, routes: {} };
  for (const [route, run] of Object.entries(routes(sessions, header))) {
    await cpuPerRequest(run, Math.ceil(N / 5)); // warm-up (JIT)
    const runs = [];
    for (let rep = 0; rep < REPS; rep++) runs.push(await cpuPerRequest(run, N));
    runs.sort((a, b) => a - b);
    row.routes[route] = { median: runs[Math.floor(runs.length / 2)], min: runs[0], max: runs[runs.length - 1] };
  }
  results.push(row);
  await sessions.close();
}

if (process.env.JSON === "1") {
  console.log(JSON.stringify({ N, REPS, node: process.version, results }));
} else {
  const cell = (r) => `${r.median.toFixed(1)} (${r.min.toFixed(1)}-${r.max.toFixed(1)})`;
  console.log("| backend | /untouched | /read | /write | /login |");
  console.log("|---|---:|---:|---:|---:|");
  for (const row of results) console.log(`| ${row.backend} | ${Object.values(row.routes).map(cell).join(" | ")} |`);
}
