"""Widgets: the run list (line API over keyset pages), detail pane, header, filter bar."""
