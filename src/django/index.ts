/**
 * Django interop helpers (`tessera-sessions/django`): Django's signing format and the
 * login keys `django.contrib.auth` keeps in a session. The backends themselves are
 * `databaseBackend({ format: "django" })` and `signedCookieBackend({ format: "django" })`.
 * @module
 */
export { djangoLogin, djangoSessionAuthHash, verifyDjangoLogin, DJANGO_AUTH_KEYS, type DjangoLogin } from "./auth.js";
export {
  dumps,
  loads,
  signPayload,
  unsignPayload,
  pythonJson,
  parsePythonJson,
  MAX_JSON_DEPTH,
  pythonFloatRepr,
  saltedHmac,
  signature,
  b62Encode,
  b62Decode,
  b64Encode,
  b64Decode,
  BadSignature,
  SignatureExpired,
  PythonFloat,
  DEFAULT_SALT,
  SESSION_STORE_SALT,
  SIGNED_COOKIES_SALT,
  type SignOptions,
  type VerifyOptions,
  type Unsigned,
  type ParsedPythonJson,
  type JsonPath,
} from "./signing.js";
