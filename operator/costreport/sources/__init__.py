"""costreport.sources layer."""
