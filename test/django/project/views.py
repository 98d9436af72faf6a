"""The Django side of the interop tests: log in, read, write and flush a session over HTTP.

Every view answers JSON, so the test can compare values exactly.
"""
import json

from django.contrib.auth import get_user_model, login, logout
from django.http import JsonResponse
from django.urls import path


def login_view(request):
    """Logs a user in as a real Django site does (cycle_key + _auth_user_* keys)."""
    username = request.GET["username"]
    user, _ = get_user_model().objects.get_or_create(username=username)
    if not user.has_usable_password():
        user.set_password("pw-" + username)
        user.save()
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    request.session["username"] = username
    return JsonResponse({"user_id": str(user.pk), "key": request.session.session_key})


def whoami(request):
    """What Django believes: request.user (which checks _auth_user_hash) and the raw keys."""
    return JsonResponse({
        "authenticated": request.user.is_authenticated,
        "user_id": request.session.get("_auth_user_id"),
        "username": request.session.get("username"),
    })


def get_value(request):
    value = request.session.get(request.GET["key"])
    return JsonResponse({"value": value, "type": type(value).__name__})


def set_value(request):
    request.session[request.GET["key"]] = json.loads(request.GET["value"])
    return JsonResponse({"ok": True})


def set_expiry(request):
    request.session.set_expiry(int(request.GET["seconds"]))
    return JsonResponse({"ok": True})


def items(request):
    return JsonResponse({"data": dict(request.session.items())})


def expire_date(request):
    """The db engine's stored expire_date for the request's session, in ms since the epoch."""
    from django.contrib.sessions.models import Session

    row = Session.objects.filter(pk=request.session.session_key).first()
    return JsonResponse({"ms": None if row is None else round(row.expire_date.timestamp() * 1000)})


def flush(request):
    logout(request)  # flushes the session, as a logout view does
    return JsonResponse({"ok": True})


urlpatterns = [
    path("login", login_view),
    path("whoami", whoami),
    path("get", get_value),
    path("set", set_value),
    path("expiry", set_expiry),
    path("items", items),
    path("expire_date", expire_date),
    path("flush", flush),
]
