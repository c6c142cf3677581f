/**
 * Subsystems that add subcommands to the CLI register themselves on import. Each
 * registering module stays light: heavy parts (SQLite, enquirer) load inside actions.
 */
