"""jinja2 templates of the HTML report and the default policy/checklist files (packaged as audit.templates)."""
