from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin

from .models import Profile

if TYPE_CHECKING:
    ProfileAdminBase = admin.ModelAdmin[Profile]
else:
    ProfileAdminBase = admin.ModelAdmin


@admin.register(Profile)
class ProfileAdmin(ProfileAdminBase):
    list_display = ("user", "welcomed_at", "synced_at", "phone")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    search_fields = ("user__username", "user__email", "phone")
    readonly_fields = ("avatar_source_url", "welcomed_at", "synced_at")
