"""Logging out: Django's LogoutView (POST only), with a page for a GET and a word after."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect, render


class LogoutView(auth_views.LogoutView):
    """POST logs out, then the login page says so. A GET (a typed or bookmarked
    /logout/) asks with the same button, where Django answers a blank 405; logged out
    already, it goes to the login page."""

    http_method_names = ["get", "post", "options"]

    def get(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect(settings.LOGIN_URL)
        return render(request, "registration/logout_confirm.html")

    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        messages.info(request, "You are logged out.")
        return response
