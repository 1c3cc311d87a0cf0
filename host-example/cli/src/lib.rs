//! The `ghl-rankr` CLI's pieces: the settings file ([`config`]), the GHL
//! credential from the environment and the token file ([`credentials`]),
//! the one place a call of the component is prepared and run
//! ([`invoke`]), the compile cache ([`cache`]), atomic private files
//! ([`files`]), output for people and machines ([`render`]), `bench`, (with
//! the `demo` feature) the demo against the fakes, and `serve`, the
//! long-running service ([`serve`]).

pub mod bench;
pub mod cache;
pub mod config;
pub mod credentials;
#[cfg(feature = "demo")]
pub mod demo;
pub mod files;
pub mod invoke;
pub mod progress;
pub mod render;
pub mod secret;
pub mod serve;
