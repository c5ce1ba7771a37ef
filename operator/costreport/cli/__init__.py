"""The `costreport` command: query allocations and assets, serve the API, run the operator."""

from costreport.cli.main import main

__all__ = ["main"]
