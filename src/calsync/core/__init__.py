"""The pure core: the model, identity, settings, classification, phases, catalogue, planner,
reconcile and render. No I/O, no clock, no config reader; ``tests/test_layering.py`` holds it so."""
