# energy: the energy model (`nbkit energy`, command.py): current profiles, timelines, batteries,
# the firmware wake run, plots, and the 3GPP PSM/eDRX timer tool (`nbkit timers`, timers.py).
"""Energy model: per-state current profiles, timeline integration, batteries, synthetic timelines.

``nbkit energy`` (host_tools.energy.command) and the bench suite ``power`` use it. Profiles and
battery presets are editable JSON files in ``profiles/``.
"""
