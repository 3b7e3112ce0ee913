"""`python -m services.enricher`: run the enricher service."""

from services.enricher.app import run
from shared.service import main

main("enricher", run)
