from django.urls import URLPattern, URLResolver, get_resolver

# Endpoints that authenticate without cookies (Basic auth, tokens); DRF enforces CSRF itself
# for session-authenticated API calls.
NON_COOKIE_PREFIXES = ("api/", "odata/")


def routes(patterns, prefix: str = ""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.callback


def test_only_non_cookie_endpoints_are_csrf_exempt():
    exempt = [
        route
        for route, view in routes(get_resolver().url_patterns)
        if getattr(view, "csrf_exempt", False)
    ]
    assert [
        route for route in exempt if not route.lstrip("^").startswith(NON_COOKIE_PREFIXES)
    ] == []
    assert any(route.startswith("odata/") for route in exempt)
