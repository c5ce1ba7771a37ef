"""costreport.model layer."""
