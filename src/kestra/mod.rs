//! The Kestra REST client: tenant and path-form detection, scoped listing of live flows
//! (export by query, falling back to per-flow reads), server-side validation, writes and
//! deletes. Built on the shared [`crate::http`] setup (timeouts, safe retries, secrets).

pub mod client;
pub mod error;
mod export;
pub mod files;
mod listing;
pub mod paths;
mod revisions;
pub mod validate;

pub use client::{KestraClient, KestraConfig};
pub use error::KestraError;
pub use listing::{Fetched, Listing};

// The domain types the client speaks in, defined in `crate::model` (plan and apply use them
// from there); re-exported so `kestra::Scope` and friends keep their paths.
pub use crate::model::previews::{self, PreviewTemplate};
pub use crate::model::{
    same_source, strip_revision, LocalFlow, RemoteFlow, Scope, ServerInfo, Validation, Written,
};
