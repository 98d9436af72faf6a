/**
 * A child process for faults.test.ts, run with `node --expose-gc`: a tessera-sessions/node server on
 * memoryBackend({ maxEntries: 1000 }) in this process, and a long run of hostile requests to it
 * over real HTTP (seeded, so a failure can be replayed). After `checkpoint` requests and again
 * after `total`, it collects garbage and notes heapUsed. Prints one JSON line: the statuses seen
 * and the two heap sizes.
 *
 * Usage: node --expose-gc <hooks> memory-fuzz.ts <total> <checkpoint> <seed>
 */
import { Agent, createServer, request } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { createSessions } from "tessera-sessions";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { withSession } from "tessera-sessions/node";

const [total, checkpoint, seed] = process.argv.slice(2).map(Number);
if (total === undefined || checkpoint === undefined || seed === undefined || !(checkpoint < total))
  throw new Error("usage: memory-fuzz.ts <total> <checkpoint> <seed>");
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with node --expose-gc");

/** mulberry32: a small seeded PRNG. */
let state = seed >>> 0;
function random(): number {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
function text(length: number, alphabet: string): string {
  let out = "";
  for (let i = 0; i < length; i++) out += alphabet.charAt(Math.floor(random() * alphabet.length));
  return out;
}
const KEY_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

const sessions = createSessions({ backend: memoryBackend({ maxEntries: 1000 }), cookie: { secure: false }, logger: { warn: () => {}, error: () => {} } });
const PAD = "p".repeat(1024);
const server = createServer(
  withSession(sessions, async (req, res) => {
    const data = await req.session.load();
    if (req.url === "/write") {
      await req.session.set("n", ((data["n"] as number | undefined) ?? 0) + 1);
      await req.session.set("pad", PAD + String(data["n"] ?? 0)); // 1 kB a record: a leak of records would show
    } else if (req.url === "/nested") {
      let deep: unknown = "bottom";
      for (let i = 0; i < 200; i++) deep = { __proto__x: i, inner: deep };
      await req.session.update({ deep, ["__proto__"]: { admin: true }, constructor: "c" } as Record<string, unknown>);
    }
    res.end("ok");
  }),
);
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const { port } = server.address() as AddressInfo;

/** Keys the server handed out: replayed later as "another visitor's key". */
const issued: string[] = [];

/** A hostile Cookie header node:http will send (no control characters). */
function hostileCookie(): string {
  const known = issued.length > 0 ? (issued[Math.floor(random() * issued.length)] as string) : text(32, KEY_ALPHABET);
  switch (Math.floor(random() * 12)) {
    case 0:
      return `sessionid=${text(32, KEY_ALPHABET)}`; // an unknown well-formed key
    case 1:
      return `sessionid=${known}`; // another visitor's key
    case 2:
      return `sessionid=${text(2000 + Math.floor(random() * 12_000), KEY_ALPHABET)}`; // huge
    case 3:
      return Array.from({ length: 50 }, () => `sessionid=${text(32, KEY_ALPHABET)}`).join("; "); // duplicated
    case 4:
      return `sessionid=${text(20, "%ZG0f")}`; // bad percent-encoding
    case 5:
      return `sessionid=../../${text(8, "./abc")}/etc/passwd`;
    case 6:
      return `__proto__=x; constructor=y; sessionid=__proto__; ${"toString"}=1`;
    case 7:
      return `sessionid=v1.${text(40, `${KEY_ALPHABET}-_`)}.${text(43, `${KEY_ALPHABET}-_`)}`; // a forged token
    case 8:
      return `sessionid=${known}${pick(["\u00e9", "\u00ff", "\u0080", " ", '"'])}${text(4, KEY_ALPHABET)}`;
    case 9:
      return Array.from({ length: 500 }, (_, i) => `c${i}=${i}`).join("; ");
    case 10:
      return `sessionid="${known}"; sessionid=${known.toUpperCase()}`;
    default:
      return text(Math.floor(random() * 300), `${KEY_ALPHABET};=, "\\%\u00e9\t`);
  }
}

const agent = new Agent({ keepAlive: true, maxSockets: 16 });
const statuses: Record<string, number> = {};
const count = (status: number) => void (statuses[status] = (statuses[status] ?? 0) + 1);

function viaHttp(path: string, cookie: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, agent, headers: { Cookie: cookie } }, (res) => {
      const set = res.headers["set-cookie"]?.[0];
      const value = set?.startsWith("sessionid=") ? set.slice("sessionid=".length).split(";")[0] : undefined;
      if (value && issued.length < 2000) issued.push(value);
      res.resume();
      res.on("end", () => {
        count(res.statusCode ?? 0);
        resolve();
      });
    });
    req.on("error", reject);
    req.end();
  });
}

/** Bytes node:http will not send (NUL and other controls) go over a raw socket. */
function viaSocket(cookie: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let answer = "";
    socket.on("data", (chunk: Buffer) => void (answer += chunk.toString("latin1")));
    socket.on("error", (error: NodeJS.ErrnoException) => (error.code === "ECONNRESET" || error.code === "EPIPE" ? undefined : reject(error)));
    socket.on("close", () => {
      count(Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0));
      resolve();
    });
    socket.end(Buffer.concat([Buffer.from("GET /write HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: sessionid="), cookie, Buffer.from("\r\n\r\n")]));
  });
}

let next = 0;
async function run(until: number): Promise<void> {
  const worker = async () => {
    while (next < until) {
      const i = next++;
      if (i % 25 === 0)
        await viaSocket(Buffer.from([...Buffer.from(text(16, KEY_ALPHABET)), Math.floor(random() * 32), ...Buffer.from(text(16, KEY_ALPHABET))]));
      else await viaHttp(pick(["/", "/write", "/write", "/nested"]), hostileCookie());
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

async function heapUsed(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    (gc as () => void)();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return process.memoryUsage().heapUsed;
}

await run(checkpoint);
const atCheckpoint = await heapUsed();
await run(total);
const atEnd = await heapUsed();
agent.destroy();
server.closeAllConnections();
await new Promise((resolve) => server.close(resolve));
process.stdout.write(`${JSON.stringify({ statuses, requests: next, atCheckpoint, atEnd })}\n`);
