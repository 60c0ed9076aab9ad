//! End-to-end tests with the built binaries, driven by kubectl (owned by the front-door work).
