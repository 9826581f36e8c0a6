"""HTTP routers: thin, each turns a request into a call on a domain module."""
