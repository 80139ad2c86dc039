//! Command line: clap arguments (`args`) resolved once into a `Plan` (`plan`).
