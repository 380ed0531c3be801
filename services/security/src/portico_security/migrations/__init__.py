"""SQL migrations of the security schema, applied in file-name order by the kernel."""
