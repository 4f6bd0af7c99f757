from django.db import models


class File(models.Model):
    """An uploaded file; stored under MEDIA_ROOT/files/ (/code/uploads/files/)."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="files"
    )
    name = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    stored = models.FileField(upload_to="files/")
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.name
