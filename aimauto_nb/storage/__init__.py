"""Where studies live: storage URLs, opening or resuming a study, journal safety, the owner
lease, the default ``.aimauto/`` store and its listing, kept-model files, and the
optuna-dashboard server. Imports the space and runtime layers, never the search core."""
