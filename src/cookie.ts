/**
 * Reading the session cookie from a `Cookie` header and writing Django's `Set-Cookie` headers.
 * Parsing and serializing are the `cookie` package's; the rules about which attributes are the
 * core's.
 * @module
 */
import { parse, serialize, type SerializeOptions } from "cookie";
import type { ResolvedOptions, SameSite } from "./options.js";

/** Browsers keep at most 4096 bytes of name, value and attributes per cookie (RFC 6265 section 6.1). */
export const MAX_COOKIE_BYTES = 4096;

/** Django's deletion date, the Unix epoch. */
const EPOCH = new Date(0);

/**
 * The value of cookie `name` in a `Cookie` header, percent-decoding and surrounding quotes
 * undone, or `undefined` when absent. Never throws, whatever the header holds.
 */
export function readCookie(header: string | readonly string[] | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  const text = typeof header === "string" ? header : header.join("; ");
  if (!text.includes(name)) return undefined; // the common fast path: no session cookie at all
  let value: string | undefined;
  try {
    // The parse result has no prototype, so "__proto__" or "constructor" cookies are plain keys.
    value = parse(text)[name];
  } catch {
    return undefined;
  }
  if (value !== undefined && value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
  return value;
}

/**
 * `Set-Cookie` for a live session: Django's attributes for the options given, nothing more.
 * The same string `serialize` builds (attribute order included), assembled from parts the
 * `cookie` package serialized once per options: this runs on every saving response, and
 * validating the same attributes each time cost more than the rest of the commit.
 */
export function sessionCookie(options: ResolvedOptions, value: string, maxAge: number | undefined): string {
  const parts = cookieParts(options);
  // Keys and signed values are cookie-safe by construction (and left unencoded for Django interop).
  if (maxAge === undefined) return `${parts.name}=${value}${parts.location}${parts.flags}`;
  return `${parts.name}=${value}; Max-Age=${maxAge}${parts.location}; Expires=${httpDate(options.clock() + maxAge * 1000)}${parts.flags}`;
}

/** The fixed parts of a session's `Set-Cookie`: `; Domain=…; Path=…` and `; HttpOnly; Secure; SameSite=…`. */
interface CookieParts {
  readonly name: string;
  readonly location: string;
  readonly flags: string;
}
const PARTS = new WeakMap<ResolvedOptions, CookieParts>();

function cookieParts(options: ResolvedOptions): CookieParts {
  let parts = PARTS.get(options);
  if (parts === undefined) {
    const { cookie } = options;
    // `serialize` validates each attribute and writes it its way; only the value part is dropped.
    const attributes = (attrs: SerializeOptions) => serialize(cookie.name, "", attrs).slice(cookie.name.length + 1);
    parts = {
      name: cookie.name,
      location: attributes({ ...(cookie.domain === undefined ? {} : { domain: cookie.domain }), path: cookie.path }),
      flags: attributes({ secure: cookie.secure, httpOnly: cookie.httpOnly, ...(cookie.sameSite === false ? {} : { sameSite: cookie.sameSite }) }),
    };
    PARTS.set(options, parts);
  }
  return parts;
}

/** `Date#toUTCString` of `millis`, which only changes once a second: the last one is kept. */
let lastSecond = Number.NaN;
let lastHttpDate = "";
function httpDate(millis: number): string {
  const second = Math.floor(millis / 1000);
  if (second !== lastSecond) {
    lastHttpDate = new Date(second * 1000).toUTCString();
    lastSecond = second;
  }
  return lastHttpDate;
}

/**
 * `Set-Cookie` that deletes the session cookie, as Django's `delete_cookie`: no HttpOnly, and
 * Secure only where browsers require it (a __Secure-/__Host- name or SameSite=None).
 */
export function deletionCookie(options: ResolvedOptions): string {
  const { cookie } = options;
  return expiredCookie(cookie.name, cookie);
}

/**
 * `Set-Cookie` that removes cookie `name` set with this domain and path (a browser only replaces
 * a cookie whose name, domain and path all match): empty, Max-Age 0, expired at the epoch.
 */
export function expiredCookie(name: string, where: { readonly domain?: string | undefined; readonly path: string; readonly sameSite?: SameSite }): string {
  const sameSite = where.sameSite ?? false;
  const secure = name.startsWith("__Secure-") || name.startsWith("__Host-") || sameSite === "none";
  return serialize(name, "", {
    maxAge: 0,
    expires: EPOCH,
    ...(where.domain === undefined ? {} : { domain: where.domain }),
    path: where.path,
    secure,
    ...(sameSite === false ? {} : { sameSite }),
  });
}

/**
 * Adds `Cookie` to a `Vary` header value the way Django's `patch_vary_headers` does: kept once
 * (case-insensitively), existing order preserved, `*` left alone.
 */
export function varyWithCookie(existing: string | number | readonly string[] | undefined): string {
  if (existing === undefined || existing === "") return "Cookie"; // the usual case, without the parsing below
  const current = existing === undefined ? "" : Array.isArray(existing) ? existing.join(", ") : String(existing);
  const fields = current
    .split(",")
    .map((f) => f.trim())
    .filter((f) => f !== "");
  if (fields.includes("*") || fields.some((f) => f.toLowerCase() === "cookie")) return fields.includes("*") ? "*" : fields.join(", ");
  return [...fields, "Cookie"].join(", ");
}

/** The fields of a `Set-Cookie` header, for frameworks that set cookies by fields (Next.js `cookies().set`). */
export interface SetCookieFields {
  readonly name: string;
  readonly value: string;
  readonly maxAge?: number;
  readonly expires?: Date;
  readonly domain?: string;
  readonly path?: string;
  readonly secure: boolean;
  readonly httpOnly: boolean;
  readonly sameSite?: "lax" | "strict" | "none";
}

/**
 * Splits a `Set-Cookie` value written by {@link sessionCookie} or {@link deletionCookie} back into
 * its fields, so an adapter whose framework only sets cookies by fields sends what the commit decided.
 */
export function setCookieFields(header: string): SetCookieFields {
  const [pair = "", ...attributes] = header.split("; ");
  const equals = pair.indexOf("=");
  const fields: { -readonly [K in keyof SetCookieFields]: SetCookieFields[K] } = {
    name: pair.slice(0, equals),
    value: pair.slice(equals + 1),
    secure: false,
    httpOnly: false,
  };
  for (const attribute of attributes) {
    const [name = "", value = ""] = attribute.split("=", 2);
    switch (name.toLowerCase()) {
      case "max-age":
        fields.maxAge = Number(value);
        break;
      case "expires":
        fields.expires = new Date(value);
        break;
      case "domain":
        fields.domain = value;
        break;
      case "path":
        fields.path = value;
        break;
      case "secure":
        fields.secure = true;
        break;
      case "httponly":
        fields.httpOnly = true;
        break;
      case "samesite":
        fields.sameSite = value.toLowerCase() as "lax" | "strict" | "none";
        break;
    }
  }
  return fields;
}
