/**
 * Flash messages (Django's messages framework, Remix's `session.flash`): set on one request,
 * shown once on a later one, typically after a redirect. They live in the session data under one
 * reserved key, so they work on every backend and are merged like any other key.
 * @module
 */

/** Where flash messages live in the session data (underscored, like Django's own keys). */
export const FLASH_KEY = "_flash";

/** One flash message. */
export interface FlashMessage<Message = unknown> {
  /** Django's message level as a word: "info", "success", "warning", "error"... (default "info"). */
  readonly level: string;
  /** Any JSON value: a string, or an object for a richer notice. */
  readonly message: Message;
}

/**
 * The messages stored under {@link FLASH_KEY}, or [] when there are none. Anything malformed
 * (data written by hand, an older format) is dropped rather than shown.
 */
export function storedFlashes(value: unknown): FlashMessage[] {
  if (!Array.isArray(value)) return [];
  return value.filter(
    (entry): entry is FlashMessage =>
      typeof entry === "object" && entry !== null && typeof (entry as { level?: unknown }).level === "string" && "message" in entry,
  );
}
