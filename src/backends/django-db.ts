/**
 * Sessions in Django's own `django_session` table: `databaseBackend({ url, format: "django",
 * secret })` is the entry point apps use; the format lives in ./db/django.ts, over the same
 * connection code as Tessera's own table. This module keeps its older names.
 * @module
 */
export { djangoDatabaseBackend, pythonDatetimeText, DJANGO_SESSION_TABLE, type DjangoDatabaseBackendOptions } from "./db/django.js";
