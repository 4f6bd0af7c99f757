#!/usr/bin/env python3
"""Django's command-line utility for the GlitchTip stand-in (a test fixture)."""
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "glitchtip.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
