//! Sending: the exchange (authentication, pacing, retries, the deadline),
//! its OAuth refresh, the typing of error answers and the scrubbing of
//! secrets from them, the pacer, and the retry policy.

pub mod errors;
pub mod exchange;
pub mod pace;
mod refresh;
pub mod retry;

pub use errors::error_message;
pub use exchange::{Auth, Exchange, Outbound};
