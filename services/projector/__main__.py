"""`python -m services.projector`: run the projector service."""

from services.projector.app import run
from shared.service import main

main("projector", run)
