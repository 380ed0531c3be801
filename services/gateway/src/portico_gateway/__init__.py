"""Portico's HTTP+JSON front door, transcoded from the `google.api.http` annotations."""
