//! Sending: the exchange (authentication, refresh, pacing, retries, the
//! deadline, error typing), the pacer, and the retry policy.

pub mod exchange;
pub mod pace;
pub mod retry;

pub use exchange::{error_message, Auth, Exchange};
