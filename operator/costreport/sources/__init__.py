"""Where cluster data comes from (the embedded sample cluster, Prometheus) and the glue that
runs engine queries over a source."""
