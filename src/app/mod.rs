//! The application layer: each mode (plan, apply, validate, review, drift) written once, on
//! top of the pipeline (read, prepare, plan, apply), reporting through one interface whatever
//! the platform (terminal, GitHub Actions, GitLab CI).

pub mod driver;
pub mod github;
pub mod gitlab;
pub mod pipeline;
