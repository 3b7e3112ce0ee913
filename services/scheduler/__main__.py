"""`python -m services.scheduler`: run the scheduler service."""

from services.scheduler.app import run
from shared.service import main

main("scheduler", run)
