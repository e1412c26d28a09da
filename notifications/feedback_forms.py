"""The feedback form: the dialog on every page and /feedback/new/ (the same fields the API takes)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from notifications.feedback_services import TEXT_LIMIT, WHAT_HAPPENED_REQUIRED

IMAGE_TYPES = "image/png,image/jpeg,image/webp"


class FeedbackForm(forms.Form):
    what_happened = forms.CharField(
        label=_("What happened?"), max_length=TEXT_LIMIT, error_messages={"required": WHAT_HAPPENED_REQUIRED},
        widget=forms.Textarea(attrs={"rows": 4, "data-testid": "feedback-what-happened"}))
    expected = forms.CharField(label=_("What did you expect?"), max_length=TEXT_LIMIT, required=False,
                               widget=forms.Textarea(attrs={"rows": 2, "data-testid": "feedback-expected"}))
    steps = forms.CharField(label=_("Steps to reproduce"), max_length=TEXT_LIMIT, required=False,
                            help_text=_("What you clicked or typed, in order (optional)."),
                            widget=forms.Textarea(attrs={"rows": 3, "data-testid": "feedback-steps"}))
    screenshot = forms.FileField(label=_("Screenshot"), required=False,
                                 widget=forms.FileInput(attrs={"accept": IMAGE_TYPES,
                                                                        "data-testid": "feedback-screenshot"}))
    # filled by static/js/feedback.js (and by the server when a browser without scripts sends none)
    page_url = forms.CharField(required=False, max_length=2000, widget=forms.HiddenInput)
    user_agent = forms.CharField(required=False, max_length=2000, widget=forms.HiddenInput)
    app_version = forms.CharField(required=False, max_length=200, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        limit = settings.FEEDBACK_SCREENSHOT_MAX_BYTES / (1024 * 1024)
        self.fields["screenshot"].help_text = _("Optional: a PNG, JPEG or WebP image up to %(limit)s MB.") % {
            "limit": f"{limit:.0f}" if limit == int(limit) else f"{limit:.1f}"}
