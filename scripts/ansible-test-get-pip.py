"""Stand-in for the pip bootstrap script ansible-test downloads from a host outside PyPI.

ansible-test runs it as ``python get_pip.py [pip options] pip==X.Y ...`` inside each fresh sanity
virtual environment. This does the same from what is at hand: Python's bundled pip (ensurepip),
then ``pip install`` of the requested pip from the ordinary package index.
"""

import ensurepip
import os
import subprocess
import sys

ensurepip.bootstrap()
# ensurepip points PIP_CONFIG_FILE at /dev/null for itself; the install below needs the machine's pip config.
os.environ.pop("PIP_CONFIG_FILE", None)
options = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install"] + options))
