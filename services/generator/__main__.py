"""`python -m services.generator`: run the generator service."""

from services.generator.app import run
from shared.service import main

main("generator", run)
