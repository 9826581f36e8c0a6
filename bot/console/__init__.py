"""The operator console at /console: routes, Jinja2 templates, vendored static files."""
