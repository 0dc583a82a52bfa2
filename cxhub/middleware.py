"""Request checks that hold for every view."""

from django.http import HttpResponseBadRequest, JsonResponse

_API_PREFIXES = ("/api/", "/v1/")
NUL_MESSAGE = "The address holds a NUL character (%00), which no page or API accepts."


def reject_nul(get_response):
    """A 400 for a URL (path or query string) holding a NUL character, before any view:
    the database refuses NUL in text, and a lookup by such a value was a 500 in views
    that read request.GET or the path directly."""

    def middleware(request):
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path_info or "%00" in query or "\x00" in query:
            if request.path_info.startswith(_API_PREFIXES):
                return JsonResponse(
                    {"status": 400, "message": NUL_MESSAGE, "errors": {}}, status=400
                )
            return HttpResponseBadRequest(NUL_MESSAGE, content_type="text/plain; charset=utf-8")
        return get_response(request)

    return middleware
