//! Use cases: plain structs holding the ports they need.
