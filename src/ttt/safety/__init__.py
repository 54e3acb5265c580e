"""Safety layer: gate rules, canaries, SPFW projection, signals (see DESIGN.md "Safety layer")."""
