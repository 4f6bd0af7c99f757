import secrets

from django.db import models


def new_dsn_key():
    return secrets.token_hex(16)


class Project(models.Model):
    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.CASCADE, related_name="projects"
    )
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200)
    dsn_key = models.CharField(max_length=32, unique=True, default=new_dsn_key)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        unique_together = ("organization", "slug")

    def __str__(self):
        return self.name
