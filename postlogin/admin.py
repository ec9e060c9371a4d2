from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import enqueue
from .models import Job, Profile

if TYPE_CHECKING:
    ProfileAdminBase = admin.ModelAdmin[Profile]
    JobAdminBase = admin.ModelAdmin[Job]
else:
    ProfileAdminBase = JobAdminBase = admin.ModelAdmin


@admin.register(Profile)
class ProfileAdmin(ProfileAdminBase):
    list_display = ("user", "welcomed_at", "synced_at", "phone")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    search_fields = ("user__username", "user__email", "phone")
    readonly_fields = ("avatar_source_url", "welcomed_at", "synced_at", "tokens_refused_at")


@admin.register(Job)
class JobAdmin(JobAdminBase):
    list_display = (
        "id",
        "kind",
        "user",
        "provider",
        "state",
        "attempts",
        "error_code",
        "created_at",
        "finished_at",
    )
    list_filter = ("state", "kind", "provider", "error_code")
    list_select_related = ("user",)
    search_fields = ("=user__id", "user__username", "user__email", "=key")
    raw_id_fields = ("user",)
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    actions = ("replay",)
    readonly_fields = (
        "user",
        "kind",
        "key",
        "provider",
        "payload",
        "state",
        "attempts",
        "error_code",
        "claims",
        "last_error",
        "lease_until",
        "created_at",
        "updated_at",
        "finished_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Jobs come from logins; an operator replays them rather than writing them by hand.
        return False

    @admin.action(description=_("Replay the selected failed jobs"), permissions=["change"])
    def replay(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        replayed = enqueue.replay(queryset)
        skipped = queryset.count() - len(replayed)
        self.message_user(
            request,
            ngettext("%d job sent round again.", "%d jobs sent round again.", len(replayed))
            % len(replayed),
            messages.SUCCESS,
        )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%d selected job was not failed and was left alone.",
                    "%d selected jobs were not failed and were left alone.",
                    skipped,
                )
                % skipped,
                messages.WARNING,
            )
