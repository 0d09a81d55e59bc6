from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter


class AccountAdapter(DefaultAccountAdapter):
    def get_login_redirect_url(self, request):
        pending = request.session.pop("pending_invitation_token", None)
        if pending:
            from django.urls import reverse

            return reverse("accounts:invitation_accept", args=[pending])
        return super().get_login_redirect_url(request)
