// The session layer's own cost, without HTTP or a framework (issue 18): `node core.mjs` in bench/
// (or `npm run bench:core`; `npm run bench` runs it first and puts its table in docs/benchmarks.md).
// Each route is the core's whole work for one request, as every adapter drives it: open the
// session from a Cookie header, use it, commit it (tryCommitSync, else commit). CPU time
// (process.cpuUsage) per request, median of REPS runs of N requests after a warm-up, with the
// min-max. Backends: memory, signed and encrypted cookies (a networked store's cost is its client's
// I/O, which one request at a time does not amortise: the server tables measure those). Prints
// markdown, or JSON with JSON=1. CORE_PROFILE=1 adds, per backend and route, where that CPU goes:
// one more run under V8's CPU profiler, each function's share of the samples (self time) applied
// to the median above, so the items add up to the route's figure.
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

const PROFILE = process.env.CORE_PROFILE === "1";
const PROFILE_TOP = 12;

/** Each function's share of the self time of `count` runs (V8's CPU profiler, 50 µs samples). */
async function selfShares(run, count) {
  const { Session } = await import("node:inspector/promises");
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 50 });
  await session.post("Profiler.start");
  for (let i = 0; i < count; i++) await run();
  const { profile } = await session.post("Profiler.stop");
  session.disconnect();
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const self = new Map();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const frame = frames.get(id);
    if (frame.functionName === "(idle)" || frame.functionName === "(root)") return;
    const where = frame.url ? ` ${frame.url.replace(/^.*\/(dist|node_modules)\//, "").replace(/^file:.*\//, "")}:${frame.lineNumber + 1}` : "";
    const name = `${frame.functionName || "(anonymous)"}${where}`;
    const us = profile.timeDeltas[i + 1] ?? 0;
    self.set(name, (self.get(name) ?? 0) + us);
    total += us;
  });
  return [...self].map(([name, us]) => [name, us / total]).sort((a, b) => b[1] - a[1]);
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
    if (PROFILE) row.routes[route].profile = (await selfShares(run, N)).map(([name, share]) => ({ name, us: share * row.routes[route].median }));
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
  if (PROFILE)
    for (const row of results)
      for (const [route, r] of Object.entries(row.routes)) {
        const shown = r.profile.slice(0, PROFILE_TOP);
        const rest = r.profile.slice(PROFILE_TOP).reduce((sum, item) => sum + item.us, 0);
        console.log(
          `\n${row.backend} ${route}, ${r.median.toFixed(1)} µs: ${shown.map((item) => `\`${item.name}\` ${item.us.toFixed(2)}`).join(", ")}, the rest ${rest.toFixed(2)}`,
        );
      }
}
