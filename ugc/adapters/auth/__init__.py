"""Auth adapter: the external auth service client and the local JWT check (pyjwt)."""
