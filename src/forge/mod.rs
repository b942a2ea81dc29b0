//! Forges: the one sticky PR/MR comment on GitHub and GitLab.

pub mod github;
pub mod gitlab;
