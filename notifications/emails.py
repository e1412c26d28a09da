"""Email of notifications and the digest (owner: centre helper), through Django's email backend."""
