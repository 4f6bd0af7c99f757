from django.conf import settings
from django.db import models


class Organization(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.name


class OrganizationUser(models.Model):
    ROLES = [
        ("member", "Member"),
        ("admin", "Admin"),
        ("manager", "Manager"),
        ("owner", "Owner"),
    ]

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="organization_users"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="organization_users"
    )
    role = models.CharField(max_length=16, choices=ROLES, default="member")

    class Meta:
        unique_together = ("organization", "user")
