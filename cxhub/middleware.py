"""Request checks that hold for every view."""

from django.conf import settings
from django.http import Http404, HttpResponseBadRequest, JsonResponse
from django.middleware.locale import LocaleMiddleware
from django.utils import translation

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


# The pages customers see: invitation links, public survey links, unsubscribe links.
CUSTOMER_PREFIXES = ("/r/", "/s/", "/u/")


def is_customer_path(path: str) -> bool:
    return path[:3].lower() in CUSTOMER_PREFIXES  # QR scanners may send /S/…


class CustomerLocaleMiddleware(LocaleMiddleware):
    """Customers' pages speak the visitor's language (Accept-Language; an invitation's
    own locale wins in its views). Staff pages are written in English only: they stay
    English, or a French browser got English text with French dates and numbers
    ("due 3 Déc", "± 2,8")."""

    def process_request(self, request):
        if is_customer_path(request.path_info):
            return super().process_request(request)
        translation.activate(settings.LANGUAGE_CODE)
        request.LANGUAGE_CODE = settings.LANGUAGE_CODE
        return None

    def process_response(self, request, response):
        if is_customer_path(request.path_info):
            return super().process_response(request, response)
        return response


class PageNotFoundMiddleware:
    """With DEBUG on (`make run`), a page a view refuses (another team's case, an
    unknown survey link) is the product's own 404 page (cxhub.views.page_not_found),
    not Django's technical page listing every URL pattern: someone trying the demo sees
    what a user would. URLs that match no pattern keep the technical page, and with
    DEBUG off Django's handler404 shows the same page anyway."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not settings.DEBUG or not isinstance(exception, Http404):
            return None
        from cxhub.views import page_not_found

        return page_not_found(request, exception)
