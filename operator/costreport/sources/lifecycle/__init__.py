"""Container lives recorded from the Kubernetes API: parsing pods, and the recorder's book."""

from costreport.sources.lifecycle.book import CombinedLives, LifecycleBook
from costreport.sources.lifecycle.records import lives_of_pod

__all__ = ["CombinedLives", "LifecycleBook", "lives_of_pod"]
