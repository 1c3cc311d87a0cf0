//! Embeds the GHL -> Rankr connector component in wasmtime.
//!
//! - [`engine`]: compiles the component once, links and pre-instantiates it
//!   once, and runs each operation in a fresh store held to [`limits`];
//! - [`imports`]: what the component imports (`http`, `host`), served by a
//!   store's data;
//! - [`transport`]: the HTTP seam the `http` import goes through, and a real
//!   client; [`egress`]: the policy around it (allowed origins, host-owned
//!   headers); [`net`]: the trust store and proxies it uses, as the
//!   user's other tools find them;
//! - [`clock`]: the time seam.
//!
//! `examples/embed.rs` shows the whole path from `Component::new` to a call
//! in one page, without any of this.

pub mod clock;
pub mod egress;
pub mod engine;
pub mod imports;
pub mod limits;
pub mod net;
pub mod transport;

/// The WIT package this host links: a component of another version does not
/// link.
pub const WIT_PACKAGE: &str = "rankr:ghl-connector@0.7.0";

/// Types generated from `wit/connector.wit`.
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "connector",
        // Imports may trap: that is how the host ends a runaway call (a
        // flood of requests, a call past its deadline).
        imports: { default: trappable },
    });
}

pub use bindings::exports::rankr::ghl_connector::sync;
pub use bindings::rankr::ghl_connector::{http, types};
