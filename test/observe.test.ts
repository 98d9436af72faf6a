/**
 * Observability: the `tessera:session.*` tracing channels and `sessions.metrics()`, driven by
 * real HTTP requests through tessera-sessions/node on 127.0.0.1.
 */
import { tracingChannel } from "node:diagnostics_channel";
import { createServer } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { channelNames, createSessions, hashKey, type BackendCallContext, type CommitContext, type Sessions } from "tessera-sessions";
import { memoryBackend } from "tessera-sessions/backends/memory";
import { withSession } from "tessera-sessions/node";
import { get, listen, setCookieValue, type Listening } from "./hardening/http.js";
import { countingBackend, recordingLogger } from "./helpers.js";

type Event = [channel: string, phase: string, context: Record<string, unknown>];

/** Subscribes to all four channels; returns the events seen (a copy of each context at that moment) and an unsubscribe. */
function record(): { events: Event[]; stop(): void } {
  const events: Event[] = [];
  const stops: (() => void)[] = [];
  for (const [short, name] of Object.entries(channelNames)) {
    const channel = tracingChannel<unknown, BackendCallContext | CommitContext>(name);
    const seen = (phase: string) => (context: BackendCallContext | CommitContext) => void events.push([short, phase, { ...context }]);
    const handlers = { start: seen("start"), end: seen("end"), asyncStart: seen("asyncStart"), asyncEnd: seen("asyncEnd"), error: seen("error") };
    channel.subscribe(handlers);
    stops.push(() => channel.unsubscribe(handlers));
  }
  return { events, stop: () => stops.forEach((stop) => stop()) };
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** `/set?v=n` stores n under "n", `/get` answers it, `/logout` flushes, `/` does not touch the session. */
async function serve(sessions: Sessions): Promise<Listening> {
  const server = await listen(
    createServer(
      withSession(sessions, async (req, res) => {
        const url = new URL(req.url ?? "/", "http://localhost");
        if (url.pathname === "/set") await req.session.set("n", Number(url.searchParams.get("v")));
        else if (url.pathname === "/get") return res.end(String(await req.session.get("n")));
        else if (url.pathname === "/logout") await req.session.flush();
        res.end("ok");
      }),
    ),
  );
  cleanups.push(() => server.close());
  return server;
}

describe("tracing channels", () => {
  it("publish load, save, delete and commit with the backend and the session's id (never its key)", async () => {
    const sessions = createSessions({ backend: memoryBackend(), cookie: { secure: false } });
    const { url } = await serve(sessions);
    const tracing = record();
    cleanups.push(() => tracing.stop());

    const created = await get(url, "/set?v=1");
    const key = setCookieValue(created) as string;
    const id = hashKey(key);
    // A new session: no load (no key), one save (the create), one commit that did I/O.
    expect(tracing.events.map(([channel, phase]) => `${channel}.${phase}`)).toEqual([
      "commit.start",
      "save.start", // the save begins inside the commit's synchronous part (nothing to await before it)
      "save.end",
      "commit.end", // the synchronous part of the commit; its work goes on asynchronously
      "save.asyncStart",
      "save.asyncEnd",
      "commit.asyncStart",
      "commit.asyncEnd",
    ]);
    const save = tracing.events.find(([channel]) => channel === "save")?.[2];
    expect(save).toEqual({ backend: "memory", id });
    const committed = tracing.events.at(-1)?.[2];
    // The id is the one the commit started with (none yet); the result never carries the cookie.
    expect(committed).toEqual({ backend: "memory", id: null, status: 200, result: { cookie: "set", varyCookie: true } });
    expect(JSON.stringify(tracing.events)).not.toContain(key);

    tracing.events.length = 0;
    expect((await get(url, "/get", { cookie: `sessionid=${key}` })).body).toBe("1");
    // A read: one load, then a commit answered without I/O.
    expect(tracing.events.map(([channel, phase]) => `${channel}.${phase}`)).toEqual([
      "load.start",
      "load.end",
      "load.asyncStart",
      "load.asyncEnd",
      "commit.start",
      "commit.end",
      "commit.asyncStart",
      "commit.asyncEnd",
    ]);
    expect(tracing.events[3]?.[2]).toEqual({ backend: "memory", id, result: { found: true } });
    expect(tracing.events[7]?.[2]).toEqual({ backend: "memory", id, status: 200, result: { cookie: "none", varyCookie: true } });

    tracing.events.length = 0;
    await get(url, "/logout", { cookie: `sessionid=${key}` });
    expect(
      tracing.events
        .filter(([channel, phase]) => phase === "asyncEnd" && channel !== "commit")
        .map(([channel, , context]) => [channel, context["id"], context["result"]]),
    ).toEqual([
      ["delete", id, undefined], // flush deletes without loading
    ]);
    expect(tracing.events.at(-1)).toEqual([
      "commit",
      "asyncEnd",
      { backend: "memory", id: null, status: 200, result: { cookie: "deleted", varyCookie: true } },
    ]);
  });

  it("publish a store failure on the error phase, as the BackendError the app sees", async () => {
    const backend = countingBackend(memoryBackend());
    const sessions = createSessions({ backend, cookie: { secure: false }, logger: recordingLogger() });
    const { url } = await serve(sessions);
    const key = setCookieValue(await get(url, "/set?v=1")) as string;
    const tracing = record();
    cleanups.push(() => tracing.stop());
    backend.failing = true;
    expect((await get(url, "/get", { cookie: `sessionid=${key}` })).status).toBe(503);
    const failure = tracing.events.find(([channel, phase]) => channel === "load" && phase === "error")?.[2];
    expect(failure?.["error"]).toBeInstanceOf(Error);
    expect((failure?.["error"] as Error).name).toBe("BackendError");
    expect((failure?.["error"] as Error).message).toBe("[tessera] [memory] could not load the session: connect ECONNREFUSED 127.0.0.1:6379 (simulated outage)");
  });

  it("are skipped when nobody subscribes (hasSubscribers is false); the calls are still counted", async () => {
    expect(tracingChannel(channelNames.load).hasSubscribers).toBe(false);
    const sessions = createSessions({ backend: memoryBackend() });
    const session = sessions.open();
    await session.set("a", 1);
    await session.save();
    expect(sessions.metrics()).toEqual({ loads: 0, saves: 1, deletes: 0, conflictsMerged: 0, storeErrors: 0 });
  });
});

describe("sessions.metrics()", () => {
  it("counts loads, saves, deletes, merged conflicts and store errors, per Sessions object", async () => {
    const store = memoryBackend();
    // Two Sessions objects over one store act like two processes: their saves can conflict.
    const a = createSessions({ backend: store });
    const b = createSessions({ backend: store });
    const first = a.open();
    await first.set("x", 1);
    await first.save();
    const key = first.sessionKey as string;

    const inA = a.open(key);
    const inB = b.open(key);
    await inA.set("left", 1);
    await inB.set("right", 2);
    await inA.save();
    await inB.save(); // its version is stale now: reload, merge "right" onto "left", write
    expect(await b.open(key).load()).toEqual({ x: 1, left: 1, right: 2 });

    expect(a.metrics()).toEqual({ loads: 1, saves: 2, deletes: 0, conflictsMerged: 0, storeErrors: 0 });
    expect(b.metrics()).toEqual({ loads: 3, saves: 1, deletes: 0, conflictsMerged: 1, storeErrors: 0 });

    await a.open(key).flush();
    expect(a.metrics().deletes).toBe(1);
  });

  it("counts a store outage once per failed call, and a snapshot does not change afterwards", async () => {
    const backend = countingBackend(memoryBackend());
    const sessions = createSessions({ backend });
    const session = sessions.open();
    await session.set("x", 1);
    await session.save();
    const before = sessions.metrics();
    backend.failing = true;
    await expect(sessions.open(session.sessionKey).get("x")).rejects.toThrow("could not load the session");
    expect(sessions.metrics()).toEqual({ loads: 0, saves: 1, deletes: 0, conflictsMerged: 0, storeErrors: 1 });
    expect(before).toEqual({ loads: 0, saves: 1, deletes: 0, conflictsMerged: 0, storeErrors: 0 });
    expect(Object.isFrozen(before)).toBe(true);
  });
});
