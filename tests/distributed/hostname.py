"""``[core] hostname_callable`` for the harness: several "machines" share this host, each names itself.

Compose gives each container its own hostname; here every service gets ``MLOPS_HOSTNAME`` instead, so the
task-instance records show which worker ran a task.
"""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    """This service's name (``MLOPS_HOSTNAME``), else the machine's."""
    return os.environ.get("MLOPS_HOSTNAME") or socket.getfqdn()
