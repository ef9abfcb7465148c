"""Reports rendered with Jinja2 from what was recorded."""
