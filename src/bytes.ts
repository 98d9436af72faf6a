/**
 * Bytes and text without Node's Buffer, so the core runs where only Web APIs exist: UTF-8
 * encoding and length, and base64url. Node's Buffer is used when present (it is faster).
 * @module
 */
import type { Buffer as NodeBuffer } from "node:buffer";
import { nodeBuiltin } from "./runtime.js";

/** Node's Buffer where the runtime has one: faster base64 than btoa/atob. */
const NodeBufferClass = nodeBuiltin<{ Buffer: typeof NodeBuffer }>("node:buffer")?.Buffer;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The UTF-8 bytes of `text`. */
export function utf8(text: string): Uint8Array {
  // Buffer.from is about four times faster than TextEncoder for short text on Node.
  return NodeBufferClass ? NodeBufferClass.from(text, "utf8") : encoder.encode(text);
}

/** `bytes` read as UTF-8 (invalid sequences become U+FFFD, as Buffer#toString does). */
export function fromUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/** How many bytes `text` takes in UTF-8, without encoding it (lone surrogates count 3, as U+FFFD). */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) bytes += 1;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 2; // a surrogate pair: 2 UTF-16 units, 4 bytes
      i++;
    } else bytes += 2;
  }
  return bytes;
}

/** The concatenation of `parts`. */
export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** base64url without padding. */
export function toBase64url(bytes: Uint8Array): string {
  if (NodeBufferClass) return NodeBufferClass.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64url");
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/**
 * The bytes of base64url `text` (padding optional), or `undefined` when it holds a character
 * outside the alphabet or has an impossible length. Stray low bits are ignored, as Node does.
 */
export function fromBase64url(text: string): Uint8Array | undefined {
  if (!BASE64URL.test(text) || text.length % 4 === 1) return undefined;
  if (NodeBufferClass) {
    const buffer = NodeBufferClass.from(text, "base64url");
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Lower-case hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  let hex = "";
  for (const byte of bytes) hex += byte.toString(16).padStart(2, "0");
  return hex;
}
