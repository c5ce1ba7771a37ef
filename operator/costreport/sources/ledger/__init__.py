"""The cost ledger: closed hours of cluster data in Parquet, readable like any source."""

from costreport.sources.ledger.ingest import close_hours, last_closable_hour
from costreport.sources.ledger.reader import HybridSource, LedgerSource
from costreport.sources.ledger.store import LedgerStore

__all__ = ["HybridSource", "LedgerSource", "LedgerStore", "close_hours", "last_closable_hour"]
