"""Settings of the small Django site the interop tests run beside a Tessera app.

Everything that must match the Tessera side comes from the environment, set by
test/django/interop.test.ts:
  TESSERA_DJANGO_SECRET     SECRET_KEY
  TESSERA_DJANGO_FALLBACKS  SECRET_KEY_FALLBACKS, comma-separated (Django 4.1+; ignored before)
  TESSERA_DJANGO_ENGINE     "db" or "signed_cookies"
  TESSERA_DJANGO_DB         the database shared with Tessera: a SQLite file, or a
                            postgres://user:pass@host:port/name or mysql://… URL
"""
import os
from urllib.parse import unquote, urlsplit

SECRET_KEY = os.environ["TESSERA_DJANGO_SECRET"]
SECRET_KEY_FALLBACKS = [s for s in os.environ.get("TESSERA_DJANGO_FALLBACKS", "").split(",") if s]
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
TIME_ZONE = "UTC"

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "views"


def _database(target):
    url = urlsplit(target)
    engines = {"postgres": "postgresql", "postgresql": "postgresql", "mysql": "mysql", "mariadb": "mysql"}
    if url.scheme not in engines:
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": target}
    return {
        "ENGINE": "django.db.backends." + engines[url.scheme],
        "NAME": url.path.lstrip("/"),
        "USER": unquote(url.username or ""),
        "PASSWORD": unquote(url.password or ""),
        "HOST": url.hostname or "",
        "PORT": str(url.port or ""),
    }


DATABASES = {"default": _database(os.environ["TESSERA_DJANGO_DB"])}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
SESSION_ENGINE = "django.contrib.sessions.backends." + os.environ.get("TESSERA_DJANGO_ENGINE", "db")
SESSION_COOKIE_NAME = "sessionid"
SESSION_COOKIE_AGE = 1209600
# Fast hashing: these users exist only for the test.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
