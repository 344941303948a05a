//! Administration (admins only).

pub mod transactions_csv;
