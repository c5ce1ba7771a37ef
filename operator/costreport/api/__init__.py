"""costreport.api layer."""
