"""The Jinja2 pages: package data of convscope (convscope.templates)."""
