"""costreport.controller layer."""
