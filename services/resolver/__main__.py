"""`python -m services.resolver`: run the resolver service."""

from services.resolver.app import run
from shared.service import main

main("resolver", run)
