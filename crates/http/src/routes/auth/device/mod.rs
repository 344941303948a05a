//! Device-code sign-in (RFC 8628) for clients without a browser: `POST
//! /api/auth/device` starts it, `POST /api/auth/device/token` polls it, and in
//! development `POST /api/auth/device/approve` lets a signed-in user approve a
//! code on the web UI's `/device` page.

pub mod approve;
pub mod start;
pub mod token;
