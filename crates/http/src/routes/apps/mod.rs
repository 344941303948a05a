//! `/api/v1/…`: what registered apps call with their credentials (HTTP
//! Basic `client_id:client_secret`), on behalf of a signed-in askgate user.

pub mod introspect;
