// Where a session layer's CPU goes, function by function: a server and the `noop` floor of the same
// framework, each profiled by V8's CPU profiler under the same wrk load, and the two subtracted.
//
//   node profile.mjs <framework> <variant> [routes] [--rounds N] [--seconds S] [--top N]
//   npm run bench:profile -- fastify tessera:memory read,write
//
// Route by route (/login last), each round profiles both servers in turn (A B A B ...) for S seconds, the profiler
// started and stopped by SIGUSR2 (servers/common.mjs) so the window holds only the measured load.
// Self time is summed per function and per owner (Tessera's dist/, each npm package, Node's
// internals, GC), divided by the requests wrk completed, and printed beside the floor's: what the
// variant adds per request, and which functions add it. "Under Tessera" counts every sample with a
// Tessera frame on its stack (inclusive time). The profiler's 100 µs sampling adds its own cost to
// both sides; the CPU per request from /proc (utime+stime around the same windows) is printed too.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { children, requireCommands, startRedis } from "./stores.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const tesseraDist = pathToFileURL(join(here, "..", "dist")).href + "/";
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(args.splice(at, 2)[1]);
};
const ROUNDS = option("rounds", 3);
const SECONDS = option("seconds", 4);
const TOP = option("top", 15);
const [framework, variant, routeList = "untouched,read,write,login"] = args;
if (!framework || !variant) {
  console.error("usage: node profile.mjs <express|fastify|koa> <variant, e.g. tessera:memory> [routes, e.g. read,write] [--rounds 3] [--seconds 4] [--top 15]");
  process.exit(2);
}
// /login last, as in run.mjs: its sessions fill the memory store, which then drops the one whose
// cookie the other routes carry (a /read would no longer be a read).
const ROUTES = routeList.split(",").sort((a, b) => Number(a === "login") - Number(b === "login"));
const CONNECTIONS = 50;
const CLK_TCK = Number(spawnSync("getconf", ["CLK_TCK"]).stdout.toString().trim() || 100);
const dir = mkdtempSync(join(tmpdir(), "bench-profile-"));

function cpuTicks(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

function wrk(port, route, seconds, cookie) {
  const wrkArgs = ["-c", "0", "wrk", "-t1", `-c${CONNECTIONS}`, `-d${seconds}s`];
  if (cookie && route !== "login") wrkArgs.push("-H", `Cookie: ${cookie}`);
  wrkArgs.push(`http://127.0.0.1:${port}/${route}`);
  const r = spawnSync("taskset", wrkArgs, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stderr}`);
  return Number(/(\d+) requests in/.exec(r.stdout)?.[1]);
}

async function start(name, port) {
  const file = join(dir, `${name.replace(/\W/g, "_")}.cpuprofile`);
  const p = spawn("taskset", ["-c", "1", process.execPath, join(here, "servers", `${framework}.mjs`), name, String(port)], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, BENCH_PROFILE: file },
  });
  children.add(p);
  let out = "";
  p.stdout.on("data", (d) => (out += d));
  const waitFor = async (word, after) => {
    for (let i = 0; i < 400 && out.split(word).length - 1 <= after; i++) await sleep(25);
    if (out.split(word).length - 1 <= after) throw new Error(`${name} did not print ${word}:\n${out}`);
  };
  await waitFor("READY", 0);
  const login = await fetch(`http://127.0.0.1:${port}/login`, { headers: { connection: "close" } });
  const cookie =
    name === "noop"
      ? "sid=baseline-cookie-0-of-about-the-size-of-a-session-id"
      : login.headers
          .getSetCookie()
          .map((c) => c.split(";")[0])
          .join("; ");
  const check = await (await fetch(`http://127.0.0.1:${port}/read`, { headers: { cookie, connection: "close" } })).text();
  if (name !== "noop" && check !== "alice") throw new Error(`${name}: /read with the login cookie answered ${JSON.stringify(check)}`);
  let profiled = 0;
  return {
    name,
    port,
    cookie,
    pid: p.pid,
    totals: Object.fromEntries(ROUTES.map((r) => [r, { requests: 0, ticks: 0, self: new Map(), owners: new Map(), underTessera: 0 }])),
    /** wrk for `seconds` with the profiler on; the profile and the ticks are added to the route's totals. */
    async measure(route) {
      p.kill("SIGUSR2");
      await waitFor("PROFILING", profiled);
      const before = cpuTicks(p.pid);
      const requests = wrk(port, route, SECONDS, cookie);
      const ticks = cpuTicks(p.pid) - before;
      p.kill("SIGUSR2");
      await waitFor("PROFILED", profiled++);
      const t = this.totals[route];
      t.requests += requests;
      t.ticks += ticks;
      addProfile(t, JSON.parse(readFileSync(file, "utf8")));
    },
    stop: () => {
      p.kill("SIGTERM");
      children.delete(p);
    },
  };
}

function ownerOf({ url, functionName }) {
  if (url.startsWith(tesseraDist)) return "Tessera";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  if (url.startsWith("node:")) return "Node internals";
  if (url.includes("/bench/servers/")) return "bench server (routes)";
  if (functionName === "(garbage collector)") return "GC";
  if (functionName === "(program)") return "(program: V8 and native, unattributed)";
  if (functionName === "(idle)") return "(idle)";
  return "V8 builtins and other";
}

/** Adds a profile's self time per function and per owner (µs), and the inclusive time under Tessera. */
function addProfile(into, profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const tesseraBelow = new Map(); // node id -> whether a Tessera frame is on its stack
  const underTessera = (id) => {
    if (tesseraBelow.has(id)) return tesseraBelow.get(id);
    const n = byId.get(id);
    const up = parent.get(id);
    const value = ownerOf(n.callFrame) === "Tessera" || (up !== undefined && underTessera(up));
    tesseraBelow.set(id, value);
    return value;
  };
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i + 1] ?? 0; // a sample's time is the gap to the next one
    const frame = byId.get(id).callFrame;
    const owner = ownerOf(frame);
    const key = `${frame.functionName || "(anonymous)"} ${frame.url.replace(/^.*\/(node_modules|dist)\//, "").replace(/^file:\/\/.*\//, "")}:${frame.lineNumber + 1}`;
    into.self.set(`${owner}\t${key}`, (into.self.get(`${owner}\t${key}`) ?? 0) + us);
    into.owners.set(owner, (into.owners.get(owner) ?? 0) + us);
    if (underTessera(id)) into.underTessera += us;
  });
}

const fmt = (x) => (x >= 0 ? "+" : "") + x.toFixed(1);
function report(route, subject, floor) {
  const s = subject.totals[route];
  const f = floor.totals[route];
  const per = (t, us) => us / t.requests;
  const cpu = (t) => (t.ticks * 1e6) / CLK_TCK / t.requests;
  const busy = (t) => [...t.owners].filter(([o]) => o !== "(idle)").reduce((sum, [, us]) => sum + us, 0);
  const lines = [
    `### ${framework} ${variant} /${route}`,
    "",
    `${s.requests} requests profiled (${ROUNDS} x ${SECONDS} s, -c${CONNECTIONS}); noop ${f.requests}.`,
    "",
    "| µs per request | " + variant + " | noop | added |",
    "|---|---:|---:|---:|",
    `| CPU (utime+stime, /proc) | ${cpu(s).toFixed(1)} | ${cpu(f).toFixed(1)} | ${fmt(cpu(s) - cpu(f))} |`,
    `| profiled, not idle | ${per(s, busy(s)).toFixed(1)} | ${per(f, busy(f)).toFixed(1)} | ${fmt(per(s, busy(s)) - per(f, busy(f)))} |`,
    `| under Tessera's functions (inclusive) | ${per(s, s.underTessera).toFixed(1)} | 0 | ${fmt(per(s, s.underTessera))} |`,
  ];
  const owners = new Set([...s.owners.keys(), ...f.owners.keys()].filter((o) => o !== "(idle)"));
  const rows = [...owners].map((o) => [o, per(s, s.owners.get(o) ?? 0), per(f, f.owners.get(o) ?? 0)]).sort((a, b) => b[1] - b[2] - (a[1] - a[2]));
  for (const [o, a, b] of rows) lines.push(`| self: ${o} | ${a.toFixed(1)} | ${b.toFixed(1)} | ${fmt(a - b)} |`);
  lines.push(
    "",
    `Functions adding the most (self time, µs per request, ${variant} minus noop):`,
    "",
    `| function | owner | ${variant} | noop | added |`,
    "|---|---|---:|---:|---:|",
  );
  const keys = new Set([...s.self.keys(), ...f.self.keys()]);
  const added = [...keys].map((k) => [k, per(s, s.self.get(k) ?? 0), per(f, f.self.get(k) ?? 0)]).sort((a, b) => b[1] - b[2] - (a[1] - a[2]));
  for (const [k, a, b] of added.filter(([k]) => !k.startsWith("(idle)")).slice(0, TOP)) {
    const [owner, name] = k.split("\t");
    lines.push(`| \`${name}\` | ${owner} | ${a.toFixed(1)} | ${b.toFixed(1)} | ${fmt(a - b)} |`);
  }
  return lines.join("\n");
}

requireCommands(["wrk", "taskset", ...(variant.endsWith(":redis") ? ["redis-server"] : [])]);
const stopRedis = variant.endsWith(":redis") ? await startRedis() : null;
const servers = [await start(variant, 7301), await start("noop", 7302)];
try {
  for (const route of ROUTES) {
    for (const s of servers) wrk(s.port, route, 2, s.cookie); // JIT warm-up
    for (let round = 0; round < ROUNDS; round++) for (const s of servers) await s.measure(route);
  }
  console.log(ROUTES.map((route) => report(route, servers[0], servers[1])).join("\n\n"));
} finally {
  for (const s of servers) s.stop();
  await stopRedis?.();
  rmSync(dir, { recursive: true, force: true });
}
