"""Energy model: per-state current profiles, timeline integration, batteries, synthetic timelines.

``nbkit energy`` (host_tools.energy.command) and the bench suite ``power`` use it. Profiles and
battery presets are editable JSON files in ``profiles/``.
"""
