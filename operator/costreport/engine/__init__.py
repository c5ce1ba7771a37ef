"""costreport.engine layer."""
