from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core import selectors


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {
        "database": selectors.health_database(),
        "broker": selectors.health_broker(),
        "worker": selectors.health_worker(),
    }
    ok = all(c.ok for c in checks.values())
    body = {
        "status": "ok" if ok else "degraded",
        "checks": {name: {"ok": c.ok, "detail": c.detail} for name, c in checks.items()},
    }
    return JsonResponse(body, status=200 if ok else 503)


def home(request: HttpRequest) -> HttpResponse:
    """One home page, with the panels of each role the user holds."""
    return render(request, "core/home.html")
